"""End to end: the pipeline finds the tiny world's planted truth, and a broken pair
stage is caught.

The tiny world studies qaa and qab (one family, one script: 60% of their words are
shared) and qae (another family and script: nothing shared). Whatever else the tiny
recipe gets wrong, qab must gain more from qaa than from qae and the other way round,
and a pair trained on its source instead of its target must fail the same check.
"""

import json

import pandas as pd
import pytest
from conftest import run

from bloodbank.graph.planted import cells, read_truth, recovery_failures

pytestmark = pytest.mark.e2e


def recovery(repo) -> tuple[pd.DataFrame, list[str]]:
    truth = read_truth(repo / "metrics/truth.csv")
    assert truth is not None
    scores = {
        name: pd.read_csv(repo / f"metrics/estimate/finetune_scores{sfx}.csv", index_col=0)
        for name, sfx in (("mono", ""), ("matched", "_matched"))
    }
    table = cells(truth, scores)
    return table, recovery_failures(table)


def test_the_pipeline_ranks_the_related_pair_above_the_unrelated(built):
    (repo, _), _ = built
    table, failures = recovery(repo)
    assert failures == [], table.to_string()
    truth = table.set_index(["source", "target"])["truth"]
    assert truth[("qaa", "qab")] > 40 and truth[("qae", "qab")] == 0.0
    graph = json.loads((repo / "metrics/graph.json").read_text())
    assert graph["planted_truth"]["top_pair"]["source"] in {"qaa", "qab"}
    assert graph["planted_truth"]["recovery_failures"] == []
    report = (repo / "reports/graph.md").read_text()
    assert "## Planted truth against the measured graph" in report
    assert (repo / "reports/graph/fig8_truth.png").is_file()


@pytest.mark.slow
def test_a_pair_trained_on_the_wrong_target_fails_the_check(built_copy):
    """Sabotage the pair stage (train on the source's text, which the token index vouches
    for as well) and rerun: the check must fail."""
    stage = built_copy / "stages" / "pair.py"
    code = stage.read_text()
    right = "check_tokens(index, tgt, paths.tokens(tgt))"
    assert code.count(right) == 1
    stage.write_text(code.replace(right, "check_tokens(index, src, paths.tokens(src))"))
    run(["dvc", "repro", "graph"], built_copy)
    table, failures = recovery(built_copy)
    assert any("compute-matched" in f for f in failures), table.to_string()
