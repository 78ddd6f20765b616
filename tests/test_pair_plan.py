"""A balanced pair plan end to end: only the planned pairs train, the rest is estimated
and marked, and the plan is a plain parameter: growing it reruns only the source whose
targets changed, and `dvc exp run -S` changes it with no step by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import make_repo, run, tiny_params

FOUR = ["qaa", "qab", "qac", "qae"]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_balanced_plan_trains_its_pairs_and_the_graph_marks_the_estimates(tmp_path):
    params = tiny_params(
        languages=FOUR,
        studied=FOUR,
        pairs={"design": "balanced", "fraction": 0.67, "seed": 0},
        estimate={"draws": 20, "ranks": [0, 1], "shrinks": [1.0]},
    )
    repo = make_repo(tmp_path / "plan", params)
    log = run(["dvc", "repro"], repo).stdout
    trained = {
        f"{s}-{t}" for s in FOUR for t in json.loads((repo / f"metrics/pairs/{s}.json").read_text())
    }
    assert len(trained) == 4 * 2 + 4  # k = 2 per language, and the diagonal
    checkpoints = [repo / "models/pairs" / p.replace("-", "/") / "config.json" for p in trained]
    assert all(path.is_file() for path in checkpoints)
    measured = pd.read_csv(repo / "metrics/estimate/measured.csv", index_col=0)
    assert int(measured.to_numpy().sum()) == 8  # off-diagonal cells: the diagonal is no F
    completed = pd.read_csv(repo / "metrics/estimate/finetune_scores.csv", index_col=0)
    assert not completed.isna().to_numpy().any()
    scores = pd.read_csv(repo / "metrics/finetune_scores.csv", index_col=0)
    assert int(scores.isna().to_numpy().sum()) == 4  # the 4 pairs not planned
    summary = json.loads((repo / "metrics/estimate.json").read_text())["mono"]
    assert summary["measured_pairs"] == 8 and summary["pairs"] == 12
    report = (repo / "reports/graph.md").read_text()
    assert "## Measured and estimated edges" in report and "8 of 12 ordered pairs" in report
    graph = json.loads((repo / "reports/graph/transfer_graph.json").read_text())
    assert sorted(e["measured"] for e in graph["edges"]).count(False) == 4
    assert "Running stage 'estimate'" in log

    # Growing the plan: one more pair reruns its source's pair stage and no other training.
    missing = [(s, t) for s in FOUR for t in FOUR if s != t and f"{s}-{t}" not in trained]
    src, tgt = missing[0]
    grown = yaml.safe_load((repo / "params.yaml").read_text())
    grown["pairs"]["extra"] = [[src, tgt]]
    (repo / "params.yaml").write_text(yaml.safe_dump(grown, sort_keys=False))
    log = run(["dvc", "repro"], repo).stdout
    ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}
    assert ran == {"plan", f"pair@{src}", "scores", "estimate", "graph"}, log
    assert tgt in json.loads((repo / f"metrics/pairs/{src}.json").read_text())

    # A plain parameter under `dvc exp run -S`: every pair now, with no step by hand.
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "grown"], repo)
    log = run(["dvc", "exp", "run", "-S", "pairs.design=all"], repo).stdout
    assert "Running stage 'plan'" in log and "Running stage 'mono@" not in log
    scores = pd.read_csv(repo / "metrics/finetune_scores.csv", index_col=0)
    assert not scores.isna().to_numpy().any()  # every pair is measured now


def wait_for_queue(repo, timeout: float = 900.0) -> str:
    """Poll `dvc queue status` until no task is queued or running; its last output."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(5)
    raise AssertionError(f"the queue did not finish in {timeout:.0f} s:\n{status}")


@pytest.mark.slow
@pytest.mark.e2e
def test_a_queued_experiment_changes_the_plan_with_no_step_by_hand(tmp_path):
    """`dvc exp run --queue -S pairs...`: the queued experiment runs in its own workspace,
    where no one could run a manual step, and trains exactly its own plan."""
    params = tiny_params(languages=FOUR, studied=FOUR, estimate={"draws": 20, "ranks": [0]})
    repo = make_repo(tmp_path / "queue", params)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "every pair"], repo)
    sets = ["-S", "pairs.design=balanced", "-S", "pairs.fraction=0.67", "-S", "pairs.seed=1"]
    run(["dvc", "exp", "run", "--queue", "-n", "third", *sets], repo)
    run(["dvc", "exp", "run", "--run-all"], repo)
    status = wait_for_queue(repo)
    assert "Success" in status and "Failed" not in status, status
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    exps = [e for row in shown for e in row.get("experiments") or [] if e.get("name") == "third"]
    assert len(exps) == 1, shown
    data = exps[0]["revs"][0]["data"]
    estimate = data["metrics"]["metrics/estimate.json"]["data"]["mono"]
    assert estimate["measured_pairs"] == 8 and estimate["pairs"] == 12  # k = 2 of 3
    assert data["params"]["params.yaml"]["data"]["pairs"]["fraction"] == 0.67
