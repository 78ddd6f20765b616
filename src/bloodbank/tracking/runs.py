"""MLflow mirrors every stage run; DVC's metric files stay the source of truth.

A stage opens its run in its own process through MLflow's client: parameters and tags at
the start, metrics as they come, and an end that says how the stage ended: FINISHED,
FAILED, or KILLED on Ctrl-C or SIGTERM. Metrics are written synchronously: a batch takes
about 10 ms on the SQLite store, while MLflow's asynchronous queue costs a second at the
end of every run to shut down (``bench/bench_tracking.py``). The store is the repository's own
(:mod:`bloodbank.tracking.store`); ``MLFLOW_TRACKING_URI`` overrides it. Under ``dvc exp
run --queue`` stages run in a copy below ``.dvc/tmp/exps``, so the store is anchored at
``DVC_ROOT`` when DVC sets it.

MLflow is imported only when tracking is on, and only here: ``lbb repro`` forks stages
from a process that has imported it already (:mod:`bloodbank.parallel.warm`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bloodbank.core.config import Params
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
    """MLflow could not open or write the run; the stage fails with this line."""


class Run:
    """One open MLflow run; with no client (tracking off) every call does nothing."""

    def __init__(self, client: Any = None, run_id: str = "") -> None:
        self.client, self.run_id = client, run_id

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if self.client is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step or 0) for k, v in numeric(metrics).items()]
        for chunk in range(0, len(items), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=items[chunk : chunk + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self.client is None:
            return
        for k, v in tags.items():
            self.client.set_tag(self.run_id, k, str(v))

    def log_params(self, params: Mapping[str, Any]) -> None:
        if self.client is None:
            return
        from mlflow.entities import Param

        items = [Param(k, str(v)[:500]) for k, v in flatten(params).items()]
        for chunk in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[chunk : chunk + 100])

    def log_dict(self, data: Any, name: str) -> None:
        if self.client is not None:
            self.client.log_dict(self.run_id, data, name)

    def log_artifacts(self, path: Path) -> None:
        if self.client is not None:
            self.client.log_artifacts(self.run_id, str(Path(path).resolve()), Path(path).name)


def _client(experiment: str) -> tuple[Any, str]:
    """MLflow's client on the repository's store, and the experiment's id."""
    from mlflow import MlflowClient

    from bloodbank.tracking.store import ensure_experiment, store_lock

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    artifacts = (repo_root() / "mlartifacts" / experiment).as_uri()
    # the default store lives in the repository: if the repository was moved or copied,
    # its experiment still names the old folder and must follow it
    relocate = not os.environ.get("MLFLOW_TRACKING_URI")
    with store_lock(repo_root() / ".mlflow.lock"):
        client = MlflowClient(tracking_uri())
        return client, ensure_experiment(client, experiment, artifacts, relocate)


@contextmanager
def _span(client: Any, run_id: str) -> Iterator[Run]:
    """The run from here to an end that says whether the block finished."""
    status = "FAILED"
    try:
        yield Run(client, run_id)
        status = "FINISHED"
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (bloodbank.core.stagekit)
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status=status)


@contextmanager
def stage_run(
    stage: str,
    params: Params,
    *,
    logged: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[Run]:
    """One MLflow run for one stage execution, tagged with the stage, its languages, the
    seed and the git revision; ``logged`` are its parameters (the sections it reads)."""
    tracking = params.runtime.tracking
    if not tracking.enabled:
        yield Run()
        return
    tags = dict(tags or {})
    name = "@".join([stage, *[str(v) for k, v in tags.items() if k in ("language", "pair")]])
    all_tags = {"stage": stage, "seed": params.seed, "git_revision": git_revision(), **tags}
    try:
        client, experiment = _client(tracking.experiment)
        run = client.create_run(
            experiment, tags={k: str(v) for k, v in all_tags.items()}, run_name=name
        )
    except Exception as e:  # the store is unusable: one line, not MLflow's traceback
        raise TrackingError(f"MLflow tracking failed ({tracking_uri()}): {e}") from None
    with _span(client, run.info.run_id) as opened:
        opened.log_params(logged or {})
        yield opened


INHERITED = ("stage", "seed", "git_revision")  # the tags a child run takes from its parent


@contextmanager
def child_run(
    parent: Run, name: str, params: Mapping[str, Any], tags: Mapping[str, Any]
) -> Iterator[Run]:
    """A nested MLflow run inside a stage's run (one per finetune, say). It carries its
    parent's stage, seed and git revision, so that every run can be found by them."""
    if parent.client is None:
        yield Run()
        return
    above = parent.client.get_run(parent.run_id)
    inherited = {k: v for k, v in above.data.tags.items() if k in INHERITED}
    all_tags = inherited | {k: str(v) for k, v in tags.items()}
    all_tags["mlflow.parentRunId"] = parent.run_id
    run = parent.client.create_run(above.info.experiment_id, tags=all_tags, run_name=name)
    with _span(parent.client, run.info.run_id) as opened:
        opened.log_params(params)
        yield opened
