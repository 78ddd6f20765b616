"""MLflow tracking in the stage's own process: what a stage logs is what MLflow holds,
and a run always ends with the status of its stage."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from mlflow import MlflowClient

from bloodbank.core.config import Params
from bloodbank.tracking.runs import TrackingError, child_run, stage_run
from bloodbank.tracking.store import EXPERIMENT_KIND


def params(enabled: bool = True, seed: int = 0) -> Params:
    tracking = {"experiment": "t", "enabled": enabled}
    return Params.model_validate({"seed": seed, "runtime": {"tracking": tracking}})


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


@pytest.mark.slow  # a few seconds: kept out of the default run
def test_stage_run_logs_params_tags_curves_dicts_and_children(store, tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "a.txt").write_text("hello")
    logged = {"train": {"lr": 0.1}}
    with stage_run("pair", params(seed=3), logged=logged, tags={"pair": "qaa-qab"}) as run:
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


def test_a_run_ends_failed_or_killed_with_its_stage(store):
    with pytest.raises(ZeroDivisionError), stage_run("mono", params(), tags={"language": "qaa"}):
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), stage_run("mono", params(), tags={"language": "qab"}):
        raise KeyboardInterrupt
    found = runs(store)
    assert found["mono@qaa"].info.status == "FAILED"
    assert found["mono@qab"].info.status == "KILLED"


def test_the_experiment_opens_on_its_runs_table(store):
    """MLflow 3's UI opens an experiment on the view its kind names: the runs, here."""
    with stage_run("dump", params()):
        pass
    exp = MlflowClient(store).get_experiment_by_name("t")
    assert {k: exp.tags.get(k) for k in EXPERIMENT_KIND} == EXPERIMENT_KIND


STAGE = """
import sys, time
from bloodbank.core.config import Params
from bloodbank.core.stagekit import run_main
from bloodbank.tracking.runs import stage_run

def main(argv):
    p = Params.model_validate({"runtime": {"tracking": {"experiment": "t"}}})
    with stage_run("mono", p, tags={"language": "qaa"}):
        print("started", flush=True)
        time.sleep(60)

run_main(main)
"""


@pytest.mark.slow  # a stage process: a few seconds
def test_a_terminated_stage_ends_its_run_as_killed(store, tmp_path):
    """DVC and `lbb repro` stop a stage with SIGTERM (or Ctrl-C's SIGINT)."""
    script = tmp_path / "stage.py"
    script.write_text(textwrap.dedent(STAGE))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    assert runs(store)["mono@qaa"].info.status == "KILLED"


def test_a_broken_store_fails_the_stage_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://x")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    with (
        pytest.raises(TrackingError, match="MLflow tracking failed") as err,
        stage_run("dump", params()) as run,
    ):
        run.log_metrics({"a": 1.0})
    assert "\n" not in str(err.value)


def test_disabled_tracking_never_imports_mlflow():
    code = (
        "import sys\n"
        "from bloodbank.core.config import Params\n"
        "from bloodbank.tracking.runs import child_run, stage_run\n"
        "p = Params.model_validate({'runtime': {'tracking': {'enabled': False}}})\n"
        "with stage_run('dump', p, logged={'a': 1}) as run:\n"
        "    run.log_metrics({'a': 1.0}); run.log_dict({}, 'x.json')\n"
        "    with child_run(run, 'c', {}, {}) as c: c.log_metrics({'b': 2.0})\n"
        "assert 'mlflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
