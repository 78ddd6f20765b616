"""Run a DVC plan on Ray: every stale stage's command as a Ray task, recorded by DVC.

Ray schedules and places the tasks (CPU threads, GPU shares, retries after a lost
worker); this module only walks DVC's graph. A stage is submitted once its upstream
stages are done, after DVC has said it is still stale. Only this driver touches DVC's
state: a finished task's stage is saved, committed to the cache and written to dvc.lock
as ``dvc repro`` does it (``Stage.save``, ``Stage.commit``, then the lock entry), except
that lock entries are written in batches (:class:`LockWriter`). Workers only run
commands, in the repository on a shared filesystem.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bloodbank.core.offline import offline_variables
from bloodbank.parallel.plan import Step
from bloodbank.parallel.warm import run_stage


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the stages that were running: stopped, and none of them recorded."""

    def __init__(self, stopped: list[str]) -> None:
        super().__init__()
        self.stopped = stopped


LOGS = Path(".dvc") / "tmp" / "lbb"  # one log per stage run, inside DVC's own tmp folder


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged: nothing to do
    failed: dict[str, str] = field(default_factory=dict)  # stage -> its last error line
    blocked: list[str] = field(default_factory=list)  # downstream of a failure
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked


def run_command(
    cmd: str, cwd: str, env: dict[str, str], log: str, warm: bool = True
) -> tuple[int, str, str]:
    """A stage's command, as DVC runs it, in a child process; the output goes to ``log``.

    With ``warm``, a ``python stages/...`` command is forked from an interpreter that
    has torch and transformers imported (:mod:`bloodbank.parallel.warm`). Returns the
    exit code, the last line of output (the stage's one-line error when it fails) and
    the CUDA devices Ray gave this task."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    root = Path(env.get("DVC_ROOT") or cwd)
    # the stage sets the offline variables itself; the warm server needs them on import
    code = run_stage(cmd, cwd, {**offline_variables(root), **os.environ, **env}, log, warm)
    lines = [
        x for x in Path(log).read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()
    ]
    return code, (lines[-1] if lines else ""), os.environ.get("CUDA_VISIBLE_DEVICES", "")


def log_path(root: Path, stage_name: str) -> Path:
    """The stage's output log; beside it, ``.pid`` holds the PIDs of the Ray worker
    running the stage and of the stage's own process (see ``parallel.warm``)."""
    return root / LOGS / f"{stage_name.replace('/', '_').replace(':', '_')}.log"


@dataclass(frozen=True)
class Settings:
    force: bool = False  # run every planned stage, stale or not (``dvc repro -f``)
    retries: int = 2  # Ray's retries of a task whose worker died
    warm: bool = True  # python stages forked from an interpreter with torch imported


def _submit(ray: Any, step: Step, root: Path, settings: Settings) -> Any:
    stage = step.stage
    env = {"DVC_STAGE": stage.addressing, "DVC_ROOT": str(root)}
    log = str(log_path(root, stage.addressing))
    task = ray.remote(run_command).options(
        max_retries=settings.retries, **step.resources.ray_options()
    )
    return task.remote(stage.cmd, stage.wdir, env, log, settings.warm)


def _restore_from_run_cache(stage: Any) -> bool:
    """DVC's run cache: a stage already run with these very deps is restored, not rerun."""
    from dvc.stage.cache import RunCacheNotFoundError

    try:
        stage.repo.stage_cache.restore(stage)
        return True
    except RunCacheNotFoundError:
        stage.save_deps()
        return False


class LockWriter:
    """Finished stages' dvc.lock entries, written in batches.

    DVC rewrites a whole lock file for every entry it writes (a YAML round trip, about
    0.2 ms a line), so writing after each stage, as ``dvc repro`` does, costs a run time
    quadratic in its stages: 12 s a stage at 50,000 lines, which 100 languages make
    (``bench/bench_scale.py``). A batch is written once ``ratio`` times as long as the
    last write took has passed since it (at least ``every`` seconds), and always when
    the run ends, fails or is stopped. Entries, their order and the file's bytes are
    what one write per stage gives; a run killed outright loses at most the last batch,
    whose stages then rerun (or come back from DVC's run cache).
    """

    def __init__(self, every: float = 5.0, ratio: float = 4.0) -> None:
        self.every, self.ratio = every, ratio
        self.pending: list[Any] = []
        self.last, self.cost, self.writes = time.monotonic(), 0.0, 0

    def add(self, stage: Any) -> None:
        self.pending.append(stage)
        if time.monotonic() - self.last >= max(self.every, self.ratio * self.cost):
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        start = time.monotonic()
        files: dict[str, list[Any]] = defaultdict(list)
        for stage in self.pending:  # in the order they finished, file by file
            files[stage.dvcfile.path].append(stage)
        for stages in files.values():
            stages[0].dvcfile.dump_stages(stages, update_pipeline=False)
        self.pending.clear()
        self.last = time.monotonic()
        self.cost, self.writes = self.last - start, self.writes + 1


def _record(stage: Any, lock: LockWriter) -> None:
    """What ``dvc repro`` does after a stage's command succeeded (the lock entry batched)."""
    stage.save()
    stage.commit()
    lock.add(stage)


def execute(
    ray: Any,
    steps: list[Step],
    root: Path,
    settings: Settings = Settings(),
    on_change: Callable[[Outcome, list[str]], None] = lambda outcome, running: None,
) -> Outcome:
    """Run ``steps`` (upstream first) on an initialised Ray; return what happened."""
    outcome = Outcome()
    done: set[str] = set()
    waiting = list(steps)
    running: dict[Any, Step] = {}
    lock = LockWriter()
    try:
        while waiting or running:
            for step in list(waiting):
                ups = [u.addressing for u in step.upstream]
                if any(u in outcome.failed or u in outcome.blocked for u in ups):
                    waiting.remove(step)
                    outcome.blocked.append(step.name)
                elif all(u in done for u in ups):
                    waiting.remove(step)
                    _start(ray, step, root, settings, running, outcome, done, lock)
            on_change(outcome, [s.name for s in running.values()])
            if running:
                ready, _ = ray.wait(list(running), num_returns=1)
                step = running.pop(ready[0])
                code, last, _devices = ray.get(ready[0])
                if code == 0:
                    _record(step.stage, lock)
                    outcome.ran.append(step.name)
                    done.add(step.name)
                else:
                    outcome.failed[step.name] = last or f"exited with {code}"
                on_change(outcome, [s.name for s in running.values()])
    except KeyboardInterrupt:
        for ref in running:  # nothing of a cancelled stage is recorded; each stage gets
            ray.cancel(ref, force=True)  # SIGTERM from its watchdog (see parallel.warm)
        raise Interrupted([s.name for s in running.values()]) from None
    finally:  # the stages that finished are recorded, however the run ends
        lock.flush()
    return outcome


def _start(
    ray: Any,
    step: Step,
    root: Path,
    settings: Settings,
    running: dict[Any, Step],
    outcome: Outcome,
    done: set[str],
    lock: LockWriter,
) -> None:
    stage = step.stage
    if not settings.force and not stage.changed(upstream=step.upstream):
        outcome.skipped.append(step.name)
        done.add(step.name)
        return
    stage.remove_outs(ignore_remove=False, force=False)
    if not settings.force and _restore_from_run_cache(stage):
        _record(stage, lock)
        outcome.ran.append(step.name)
        done.add(step.name)
        return
    running[_submit(ray, step, root, settings)] = step
