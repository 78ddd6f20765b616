"""The MLflow store of a repository: created once, safely, and following the repository.

The store defaults to ``sqlite:///mlflow.db`` in the repository root, the store ``mlflow
ui`` opens when started there. Stages running side by side (``lbb repro``) may open it
first at the same moment, so creating its schema and the experiment is serialised by a
file lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bloodbank.core.io import exclusive

# The runs table, not the GenAI overview: MLflow 3's UI opens an experiment on the view
# its kind names (unset, it guesses GenAI and shows an empty traces page).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def store_lock(lock: Path) -> AbstractContextManager[None]:
    """Serialises opening the store: the first opening of a SQLite store creates and
    migrates its schema, which two processes must not do at once."""
    return exclusive(lock)


def ensure_experiment(client: Any, name: str, artifacts: str, relocate: bool = False) -> str:
    """The experiment's id, created if needed (call it under :func:`store_lock`).

    With ``relocate``, an experiment whose artifact folder is not ``artifacts`` (the
    repository was moved or copied, and MLflow stores absolute locations) is pointed at
    ``artifacts``, so that this repository never writes into another one's folder.
    """
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, artifact_location=artifacts, tags=EXPERIMENT_KIND)
    for key, value in EXPERIMENT_KIND.items():
        if exp.tags.get(key) != value:  # a store made before the tag
            client.set_experiment_tag(exp.experiment_id, key, value)
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
