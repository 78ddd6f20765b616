"""A balanced pair plan end to end: only the planned pairs train, the rest is estimated
and marked, and growing the plan reruns nothing already trained."""

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
    trained = sorted(p.stem for p in (repo / "metrics/pairs").glob("*.json"))
    assert len(trained) == 4 * 2 + 4  # k = 2 per language, and the diagonal
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

    # Growing the plan: one more pair, and nothing trained before is stale.
    missing = [(s, t) for s in FOUR for t in FOUR if s != t and f"{s}-{t}" not in trained]
    grown = yaml.safe_load((repo / "params.yaml").read_text())
    grown["pairs"]["extra"] = [list(missing[0])]
    (repo / "params.yaml").write_text(yaml.safe_dump(grown, sort_keys=False))
    run(["lbb", "pairs"], repo)
    status = run(["dvc", "status"], repo).stdout
    stale = {line.rstrip(":") for line in status.splitlines() if line and not line[0].isspace()}
    assert f"pair@{missing[0][0]}-{missing[0][1]}" in stale
    new = f"pair@{missing[0][0]}-{missing[0][1]}"
    assert not any(s.startswith(("pair@", "mono@")) and s != new for s in stale)


def test_scores_refuses_a_pairs_yaml_that_no_longer_follows_params(tmp_path):
    from bloodbank.core.config import PairsConfig
    from bloodbank.graph.design import PlanError, check_plan, write_plan

    write_plan(tmp_path / "pairs.yaml", FOUR, PairsConfig())
    with pytest.raises(PlanError, match="run `lbb pairs`"):
        check_plan(tmp_path / "pairs.yaml", FOUR, PairsConfig(design="balanced", fraction=0.67))
