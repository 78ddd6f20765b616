"""``lbb repro``: ``dvc repro`` with independent stages running at once on Ray.

One process, the driver, holds DVC's repository lock from planning to the last record,
as ``dvc repro`` does; Ray starts locally (``ray.init()``, nothing to set up) or joins a
cluster (``--address``). Ctrl-C cancels the running tasks and records none of them.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from bloodbank.core.config import load_params
from bloodbank.core.errors import BloodbankError
from bloodbank.parallel.execute import Outcome, Settings, execute
from bloodbank.parallel.plan import describe, plan, repo_root


@dataclass(frozen=True)
class ReproOptions:
    targets: list[str]
    address: str | None = None  # join this Ray cluster; None starts a local one
    workers: int | None = None  # CPUs of the local Ray instance (default: all)
    gpus: float | None = None  # GPUs the local instance declares (default: detected)
    gpu_share: float | None = None  # of a GPU per training; None: 1 if the cluster has GPUs
    force: bool = False
    dry_run: bool = False
    retries: int = 2
    warm: bool = True  # python stages forked from a warm interpreter (see parallel.warm)


NICENESS = "RAY_worker_niceness"


def local_worker_niceness() -> None:
    """Run a local instance's stages at the user's priority, as ``dvc repro`` does.

    Ray starts its workers at niceness 15 (the raylet's ``worker_niceness``), so the
    stages of a local ``lbb repro`` would yield to any other job on the machine: beside
    one CPU-bound process, the tiny pipeline had run 42 of its 46 stages after 24
    minutes (87 s for all of them alone). A user who wants that yield sets
    ``RAY_worker_niceness`` and is left alone; a cluster joined with ``--address`` keeps
    its own setting."""
    os.environ.setdefault(NICENESS, "0")


class ClusterError(BloodbankError):
    """The Ray cluster named by ``--address`` cannot be reached."""


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds where ``ray.init`` would retry for minutes: nothing listens at
    ``host:port`` (or ``ray://host:port``). ``auto`` and other forms go to Ray as given."""
    found = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)", address)
    if found is None:
        return
    host, port = found.group(1), int(found.group(2))
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ClusterError(
            f"--address {address}: no Ray cluster answers there ({e.strerror or e}); start "
            "one with `ray start --head`, or leave --address out to run on this machine"
        ) from None


def _init_ray(opts: ReproOptions):
    import ray

    if opts.address:
        check_address(opts.address)
        ray.init(address=opts.address, log_to_driver=False)
    else:
        local_worker_niceness()
        ray.init(
            num_cpus=opts.workers, num_gpus=opts.gpus, log_to_driver=False, include_dashboard=False
        )
    return ray


def _gpu_share(ray, opts: ReproOptions) -> float:
    if opts.gpu_share is not None:
        return opts.gpu_share
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def dry_run(root: Path, opts: ReproOptions) -> str:
    """The plan, its resources and its training budget, with nothing run."""
    from dvc.repo import Repo

    params = load_params(root / "params.yaml")
    with Repo(str(root)) as repo, repo.lock:
        steps = plan(repo, opts.targets, params, opts.gpu_share or 0.0)
        will_run: dict[str, bool] = {}
        for step in steps:  # upstream first: a stale upstream may change this one's inputs
            upstream = any(will_run[u.addressing] for u in step.upstream)
            will_run[step.name] = opts.force or upstream or step.stage.changed()
        return describe(steps, will_run)


def repro(root: Path, opts: ReproOptions) -> Outcome:
    """Reproduce ``opts.targets`` (dvc.yaml, the transfer graph, by default) in parallel."""
    from dvc.repo import Repo

    logging.getLogger("dvc").setLevel(logging.WARNING)  # not a line per lock update

    params = load_params(root / "params.yaml")
    ray = _init_ray(opts)
    try:
        with Repo(str(root)) as repo, repo.lock, repo.scm_context(quiet=True):
            steps = plan(repo, opts.targets, params, _gpu_share(ray, opts))
            bar = tqdm(total=len(steps), unit="stage", desc="lbb repro", disable=None)

            def show(outcome: Outcome, running: list[str]) -> None:
                finished = len(outcome.ran) + len(outcome.skipped) + len(outcome.failed)
                bar.update(finished + len(outcome.blocked) - bar.n)
                bar.set_postfix_str(
                    f"ran {len(outcome.ran)}, failed {len(outcome.failed)}; running "
                    + (", ".join(running) or "-")
                )

            start = time.perf_counter()
            settings = Settings(opts.force, opts.retries, opts.warm)
            outcome = execute(ray, steps, root, settings, show)
            bar.close()
            outcome.seconds = time.perf_counter() - start
            return outcome
    finally:
        ray.shutdown()


def root_of(path: Path) -> Path:
    return repo_root(path.resolve())
