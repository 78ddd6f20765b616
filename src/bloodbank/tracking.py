"""MLflow mirrors every stage run; DVC's metric files stay the source of truth.

The store defaults to ``sqlite:///mlflow.db`` in the repository root, the same
store ``mlflow ui`` opens when started there. ``MLFLOW_TRACKING_URI`` overrides
it. Under ``dvc exp run --queue`` stages run in a copy below ``.dvc/tmp/exps``,
so the store is anchored at ``DVC_ROOT`` when DVC sets it. A file lock makes
the first creation of store and experiment safe when stages run in parallel.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bloodbank.config import TrackingConfig


def repo_root() -> Path:
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path.cwd())
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


class _NullRun:
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_dict(self, data: Any, name: str) -> None:
        pass

    def log_artifacts(self, path: Path) -> None:
        pass


class _Run(_NullRun):
    def __init__(self, mlflow: Any) -> None:
        self._mlflow = mlflow

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics(numeric(metrics), step=step)

    def log_dict(self, data: Any, name: str) -> None:
        self._mlflow.log_dict(json.loads(json.dumps(data, default=str)), name)

    def log_artifacts(self, path: Path) -> None:
        self._mlflow.log_artifacts(str(path), artifact_path=Path(path).name)


def _ensure_experiment(mlflow: Any, name: str) -> str:
    lock = repo_root() / ".mlflow.lock"
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                return mlflow.create_experiment(
                    name, artifact_location=(repo_root() / "mlartifacts" / name).as_uri())
            return exp.experiment_id
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def stage_run(stage: str, tracking: TrackingConfig, seed: int, params: Mapping[str, Any],
              tags: Mapping[str, Any]) -> Iterator[_NullRun]:
    """One MLflow run for one stage execution, tagged with stage, languages, seed, git rev."""
    if not tracking.enabled:
        yield _NullRun()
        return
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    exp_id = _ensure_experiment(mlflow, tracking.experiment)
    name = "@".join([stage, *[str(v) for k, v in tags.items() if k in ("language", "pair")]])
    all_tags = {"stage": stage, "seed": seed, "git_revision": git_revision(), **tags}
    with mlflow.start_run(experiment_id=exp_id, run_name=name,
                          tags={k: str(v) for k, v in all_tags.items()}):
        flat = {k: str(v)[:500] for k, v in flatten(params).items()}
        for chunk in range(0, len(flat), 100):
            mlflow.log_params(dict(list(flat.items())[chunk:chunk + 100]))
        yield _Run(mlflow)


@contextmanager
def child_run(parent: _NullRun, name: str, params: Mapping[str, Any],
              tags: Mapping[str, Any]) -> Iterator[_NullRun]:
    """A nested MLflow run inside a stage's run (one per finetune, say)."""
    if not isinstance(parent, _Run):
        yield _NullRun()
        return
    mlflow = parent._mlflow
    experiment = mlflow.active_run().info.experiment_id  # else the default experiment
    with mlflow.start_run(experiment_id=experiment, run_name=name, nested=True,
                          tags={k: str(v) for k, v in tags.items()}):
        mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        yield _Run(mlflow)
