"""`lbb mlflow` in a real browser: the project's experiment opens on its stage runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow import MlflowClient
from test_explorer import browser, free_port, open_page  # noqa: F401 - browser is a fixture

from bloodbank.cli.mlflow_ui import runs_url


def serve(repo, port: int) -> tuple[subprocess.Popen, str]:
    """`lbb mlflow` on ``port``; returns the process and the address it printed."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bloodbank.cli", "mlflow", "--port", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = proc.stdout.readline().strip().removeprefix("MLflow UI: ")
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise AssertionError(f"MLflow did not start:\n{proc.stdout.read()}")


def top_level_runs(repo) -> list[str]:
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("test")
    found = client.search_runs([exp.experiment_id], max_results=1000)
    return [r.info.run_name for r in found if "mlflow.parentRunId" not in r.data.tags]


def test_the_runs_url_names_the_experiments_runs_view():
    url = runs_url("127.0.0.1", 5000, "3")
    assert url == "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"


def test_no_store_no_server(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, "-m", "bloodbank.cli", "mlflow"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "no MLflow store" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_the_mlflow_ui_opens_on_the_stage_runs(built, browser, tmp_path):  # noqa: F811
    (repo, _), _ = built
    expected = top_level_runs(repo)
    proc, url = serve(repo, free_port())
    try:
        page = open_page(browser, url)  # no click: the printed address is the runs table
        assert "tables" in expected  # the last stage to start: first in the table
        page.get_by_text("tables", exact=True).first.wait_for()
        body = page.inner_text("body").replace("\n", " | ")
        # a stage of each kind, newest first, from the end of the pipeline to its data
        shown = [name for name in expected if re.search(rf"\| {re.escape(name)} \|", body)]
        for name in ("tables", "graph", "scores", "pair@qaa", "mono@qaa", "tokenizer"):
            assert name in shown, f"{name} is not in the runs table"
        page.screenshot(path=str(tmp_path / "mlflow-runs.png"))
        assert re.search(r"Run Name", body) and "No data available" not in body
        assert "/runs" in page.url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
