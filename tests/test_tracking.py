"""MLflow tracking through the worker process: what a stage logs is what MLflow holds."""

import io
import json
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from bloodbank.core.config import TrackingConfig
from bloodbank.tracking.runs import TrackingError, child_run, stage_run


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    return uri


def runs(uri: str, experiment: str = "t") -> dict:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_stage_run_logs_params_tags_curves_dicts_and_children(store, tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "a.txt").write_text("hello")
    cfg = TrackingConfig(experiment="t", enabled=True)
    with stage_run("pair", cfg, 3, {"train": {"lr": 0.1}}, {"pair": "qaa-qab"}) as run:
        for step in (1, 2, 3):
            run.log_metrics({"loss": 1.0 / step, "nested": {"x": 2.0}, "skip": "text"}, step)
        run.log_dict({"sets": ["qaa"]}, "sets.json")
        run.log_artifacts(tmp_path / "report")
        with child_run(run, "child-1", {"epochs": 2}, {"source": "qaa"}) as child:
            child.log_metrics({"f1": 80.0})
    found = runs(store)
    parent, child = found["pair@qaa-qab"], found["child-1"]
    assert parent.info.status == child.info.status == "FINISHED"
    assert parent.data.params == {"train.lr": "0.1"}
    assert parent.data.tags["seed"] == "3" and parent.data.tags["stage"] == "pair"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.metrics == {"f1": 80.0} and child.data.params == {"epochs": "2"}
    history = MlflowClient(store).get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert parent.data.metrics["nested.x"] == 2.0 and "skip" not in parent.data.metrics
    artifacts = {a.path for a in MlflowClient(store).list_artifacts(parent.info.run_id)}
    assert {"sets.json", "report"} <= artifacts


@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_a_failing_stage_marks_its_run_failed_and_keeps_its_error(store):
    cfg = TrackingConfig(experiment="t", enabled=True)
    with pytest.raises(ZeroDivisionError), stage_run("mono", cfg, 0, {}, {"language": "qaa"}):
        1 / 0  # noqa: B018
    assert runs(store)["mono@qaa"].info.status == "FAILED"


@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_input_ending_without_end_closes_the_run_as_killed(store, tmp_path):
    start = {
        "op": "start",
        "uri": store,
        "experiment": "t",
        "artifacts": (tmp_path / "art").as_uri(),
        "lock": str(tmp_path / "lock"),
        "run_name": "killed",
        "tags": {},
        "params": {},
    }
    subprocess.run(
        [sys.executable, "-m", "bloodbank.tracking.worker"],
        check=True,
        input=json.dumps(start) + "\n",
        text=True,
    )
    assert runs(store)["killed"].info.status == "KILLED"


def test_a_broken_store_fails_the_stage_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://x")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    cfg = TrackingConfig(experiment="t", enabled=True)
    with (
        pytest.raises(TrackingError, match="MLflow tracking failed"),
        stage_run("dump", cfg, 0, {}, {}) as run,
    ):
        run.log_metrics({"a": 1.0})


def test_disabled_tracking_starts_no_worker(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("worker started"))
    with stage_run("dump", TrackingConfig(experiment="t", enabled=False), 0, {}, {}) as run:
        run.log_metrics({"a": 1.0})
        run.log_dict({}, "x.json")


def test_worker_applies_operations_in_order(store, tmp_path):
    from bloodbank.tracking.worker import Writer, serve

    ops = [
        {
            "op": "start",
            "uri": store,
            "experiment": "t",
            "artifacts": (tmp_path / "art").as_uri(),
            "lock": str(tmp_path / "lock"),
            "run_name": "direct",
            "tags": {"k": "v"},
            "params": {"p": "1"},
        },
        {"op": "metrics", "metrics": {"m": 2.5}, "step": 4},
        {"op": "end", "status": "FINISHED"},
    ]
    serve(io.StringIO("".join(json.dumps(op) + "\n" for op in ops)))
    run = runs(store)["direct"]
    assert run.info.status == "FINISHED" and run.data.metrics == {"m": 2.5}
    assert run.data.tags["k"] == "v" and run.data.params == {"p": "1"}
    with pytest.raises(ValueError, match="unknown tracking operation 'nope'"):
        Writer().apply({"op": "nope"})
