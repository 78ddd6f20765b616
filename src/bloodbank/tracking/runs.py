"""MLflow mirrors every stage run; DVC's metric files stay the source of truth.

The store defaults to ``sqlite:///mlflow.db`` in the repository root, the same
store ``mlflow ui`` opens when started there. ``MLFLOW_TRACKING_URI`` overrides
it. Under ``dvc exp run --queue`` stages run in a copy below ``.dvc/tmp/exps``,
so the store is anchored at ``DVC_ROOT`` when DVC sets it. A file lock makes
the first creation of store and experiment safe when stages run in parallel.
A worker process writes the run while the stage works (see ``tracking.worker``);
the stage waits for it at the end, so a finished stage's run is complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from bloodbank.core.config import TrackingConfig
from bloodbank.core.errors import BloodbankError


def repo_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path.cwd()
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def numeric(data: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a (nested) metrics dict, flattened for MLflow."""
    out = {}
    for k, v in flatten(data).items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if v == v and abs(v) != float("inf"):
            out[k] = float(v)
    return out


class TrackingError(BloodbankError, RuntimeError):
    """The MLflow worker failed; the stage fails with its message."""


class _NullRun:
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_dict(self, data: Any, name: str) -> None:
        pass

    def log_artifacts(self, path: Path) -> None:
        pass


class _Run(_NullRun):
    """Sends a run's records to the worker process, which writes them in order."""

    def __init__(self, worker: subprocess.Popen | _ForkedWorker, errors: IO[str]) -> None:
        self._worker = worker
        self._errors = errors

    def send(self, op: dict) -> None:
        with suppress(BrokenPipeError):  # the worker died; close() reports why
            self._worker.stdin.write(json.dumps(op, default=str) + "\n")
            self._worker.stdin.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.send({"op": "metrics", "metrics": numeric(metrics), "step": step})

    def log_dict(self, data: Any, name: str) -> None:
        self.send({"op": "dict", "data": json.loads(json.dumps(data, default=str)), "name": name})

    def log_artifacts(self, path: Path) -> None:
        self.send({"op": "artifacts", "path": str(Path(path).resolve())})

    def close(self) -> None:
        """Wait until everything sent is written; raise if the worker failed."""
        with suppress(BrokenPipeError):
            self._worker.stdin.close()
        if self._worker.wait() != 0:
            self._errors.seek(0)
            err = self._errors.read().strip()
            raise TrackingError(
                err.splitlines()[-1]
                if err
                else f"MLflow worker exited with {self._worker.returncode}"
            )


class _ForkedWorker:
    """The worker as a fork of this process, with :class:`subprocess.Popen`'s interface.

    Used where MLflow is imported already (see :func:`fork_workers`)."""

    def __init__(self, errors: IO[str]) -> None:
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: stdin is the pipe, stderr the errors file
            os.close(write)
            os.dup2(read, 0)
            os.dup2(errors.fileno(), 2)
            os._exit(_serve_forked())
        os.close(read)
        self.stdin = os.fdopen(write, "w", encoding="utf-8")
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _serve_forked() -> int:
    from bloodbank.tracking.worker import main

    code = 0
    try:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # the stage reports the last line of this
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    return code


_fork = False  # see fork_workers


def fork_workers() -> None:
    """Fork each run's worker from this process instead of starting a new interpreter.

    ``lbb repro`` calls it in a stage forked from its warm server, where MLflow is
    imported already: a fork takes milliseconds where a fresh worker spends 2 s of CPU
    beside the stage. Elsewhere MLflow is not loaded and a fork would gain nothing."""
    global _fork
    _fork = True


def _start_worker(errors: IO[str]) -> subprocess.Popen | _ForkedWorker:
    """The process that writes the run: forked in a warm stage, else started."""
    if _fork and "mlflow" in sys.modules:
        return _ForkedWorker(errors)
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "bloodbank.tracking.worker"],
        stdin=subprocess.PIPE,
        stderr=errors,
        text=True,
    )


def _params(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v)[:500] for k, v in flatten(params).items()}


@contextmanager
def stage_run(
    stage: str,
    tracking: TrackingConfig,
    seed: int,
    params: Mapping[str, Any],
    tags: Mapping[str, Any],
) -> Iterator[_NullRun]:
    """One MLflow run for one stage execution, tagged with stage, languages, seed, git rev.

    The run is written by a worker process (``bloodbank.tracking.worker``), started
    here: enter this before importing torch, and MLflow's start-up overlaps it.
    """
    if not tracking.enabled:
        yield _NullRun()
        return
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: it never blocks
        worker = _start_worker(errors)
        with _tracked(_Run(worker, errors), stage, tracking, seed, params, tags) as run:
            yield run


@contextmanager
def _tracked(
    run: _Run,
    stage: str,
    tracking: TrackingConfig,
    seed: int,
    params: Mapping[str, Any],
    tags: Mapping[str, Any],
) -> Iterator[_Run]:
    name = "@".join([stage, *[str(v) for k, v in tags.items() if k in ("language", "pair")]])
    all_tags = {"stage": stage, "seed": seed, "git_revision": git_revision(), **tags}
    start = {
        "op": "start",
        "uri": tracking_uri(),
        "experiment": tracking.experiment,
        "artifacts": (repo_root() / "mlartifacts" / tracking.experiment).as_uri(),
        # the default store lives in the repository: if the repository was moved or
        # copied, its experiment still names the old folder and must follow it
        "relocate": not os.environ.get("MLFLOW_TRACKING_URI"),
        "lock": str(repo_root() / ".mlflow.lock"),
        "run_name": name,
        "tags": {k: str(v) for k, v in all_tags.items()},
        "params": _params(params),
    }
    try:
        with _span(run, start):
            yield run
    except BaseException:
        with suppress(TrackingError):  # the stage's own error is the one to report
            run.close()
        raise
    run.close()


@contextmanager
def _span(run: _Run, start: dict) -> Iterator[_Run]:
    """A run from ``start`` to an ``end`` that says whether the block finished."""
    run.send(start)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        run.send({"op": "end", "status": status})


@contextmanager
def child_run(
    parent: _NullRun, name: str, params: Mapping[str, Any], tags: Mapping[str, Any]
) -> Iterator[_NullRun]:
    """A nested MLflow run inside a stage's run (one per finetune, say)."""
    if not isinstance(parent, _Run):
        yield _NullRun()
        return
    start = {
        "op": "start",
        "nested": True,
        "run_name": name,
        "tags": {k: str(v) for k, v in tags.items()},
        "params": _params(params),
    }
    with _span(parent, start):
        yield parent
