"""The process that writes a stage's MLflow run, fed JSON lines on standard input.

``bloodbank.tracking.runs`` starts it when a stage begins, so that importing MLflow and
opening its SQLite store (about 2 s) happen on the second core while the stage
imports torch and trains. Operations are applied in the order sent; the worker
ends when its input ends. Input that ends without a final ``end`` means the stage
died: the open runs are closed as KILLED.

    {"op": "start", "uri": ..., "experiment": ..., "artifacts": ..., "lock": ...,
     "run_name": ..., "tags": {...}, "params": {...}}
    {"op": "start", "nested": true, "run_name": ..., "tags": {...}, "params": {...}}
    {"op": "metrics", "metrics": {...}, "step": 3}
    {"op": "dict", "data": ..., "name": "sets.json"}
    {"op": "artifacts", "path": "reports/graph"}
    {"op": "end", "status": "FINISHED"}
"""

from __future__ import annotations

import fcntl
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


@contextmanager
def store_lock(lock: Path) -> Iterator[None]:
    """Serialises opening the store: the first opening of a SQLite store creates and
    migrates its schema, which two processes must not do at once."""
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_experiment(client: Any, name: str, artifacts: str, relocate: bool = False) -> str:
    """The experiment's id, created if needed (call it under :func:`store_lock`).

    With ``relocate``, an experiment whose artifact folder is not ``artifacts`` (the
    repository was moved or copied, and MLflow stores absolute locations) is pointed at
    ``artifacts``, so that this repository never writes into another one's folder.
    """
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, artifact_location=artifacts)
    if relocate and exp.artifact_location != artifacts:
        move_artifact_root(client.tracking_uri, exp.experiment_id, exp.artifact_location, artifacts)
    return exp.experiment_id


def move_artifact_root(uri: str, experiment_id: str, old: str, new: str) -> None:
    """Point an experiment of a SQLite store, and its runs, from ``old`` to ``new``.

    MLflow has no API to change an experiment's artifact location, so this updates the
    two columns that hold it, in the store's own SQLite file (only ever ours: the
    default store inside the repository).
    """
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        db.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
            (new, int(experiment_id)),
        )
        db.execute(
            "UPDATE runs SET artifact_uri = ? || substr(artifact_uri, ?) "
            "WHERE experiment_id = ? AND substr(artifact_uri, 1, ?) = ?",
            (new, len(old) + 1, int(experiment_id), len(old), old),
        )


class Writer:
    """Applies operations with MLflow's client API: no run-context probing, one batch each."""

    def __init__(self) -> None:
        self.client: Any = None
        self.experiment = ""
        self.runs: list[str] = []  # open runs, innermost last

    def start(self, op: dict) -> None:
        from mlflow import MlflowClient

        tags = dict(op["tags"])
        if self.runs:  # a child: same experiment, linked to its parent
            tags["mlflow.parentRunId"] = self.runs[-1]
        else:
            with store_lock(Path(op["lock"])):
                self.client = MlflowClient(op["uri"])
                self.experiment = ensure_experiment(
                    self.client, op["experiment"], op["artifacts"], op.get("relocate", False)
                )
        run = self.client.create_run(self.experiment, tags=tags, run_name=op["run_name"])
        self.runs.append(run.info.run_id)
        self.params(op["params"])

    def params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for chunk in range(0, len(items), 100):
            self.client.log_batch(self.runs[-1], params=items[chunk : chunk + 100])

    def metrics(self, metrics: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step or 0) for k, v in metrics.items()]
        for chunk in range(0, len(items), 1000):
            self.client.log_batch(self.runs[-1], metrics=items[chunk : chunk + 1000])

    def apply(self, op: dict) -> None:
        kind = op["op"]
        if kind == "start":
            self.start(op)
        elif kind == "metrics":
            self.metrics(op["metrics"], op.get("step"))
        elif kind == "dict":
            self.client.log_dict(self.runs[-1], op["data"], op["name"])
        elif kind == "artifacts":
            self.client.log_artifacts(self.runs[-1], op["path"], Path(op["path"]).name)
        elif kind == "end":
            self.client.set_terminated(self.runs.pop(), status=op["status"])
        else:
            raise ValueError(f"unknown tracking operation {kind!r}")

    def close(self) -> None:
        """Input ended: runs still open belong to a stage that was killed."""
        while self.runs:
            self.client.set_terminated(self.runs.pop(), status="KILLED")


def serve(stream: TextIO) -> None:
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    writer = Writer()
    for line in stream:
        writer.apply(json.loads(line))
    writer.close()


def main() -> None:
    try:
        serve(sys.stdin)
    except Exception as e:  # reported by the stage, which fails with this line
        print(f"MLflow tracking failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
