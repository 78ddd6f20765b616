import numpy as np
import pandas as pd
import pytest

from bloodbank.graph.finetune_scores import (
    finetune_scores,
    matched_baseline,
    pair_frame,
    summary,
    write_matrix,
)
from bloodbank.graph.matrix_io import read_matrix

LANGS = ["qaa", "qab"]
MONO = pd.Series({"qaa": 0.20, "qab": 0.40})
PAIRS = pair_frame(
    {("qaa", "qaa"): 0.25, ("qaa", "qab"): 0.30, ("qab", "qaa"): 0.30, ("qab", "qab"): 0.50}, LANGS
)


def test_f_is_equation_4_in_percent():
    f = finetune_scores(PAIRS, MONO)
    # F(a->b) = (0.30 - 0.40) / 0.40 = -25%;  F(b->a) = (0.30 - 0.20) / 0.20 = +50%
    np.testing.assert_allclose(f.to_numpy(), [[25.0, -25.0], [50.0, 25.0]])
    assert list(f.index) == LANGS and list(f.columns) == LANGS


def test_compute_matched_baseline_uses_the_diagonal():
    f = finetune_scores(PAIRS, matched_baseline(PAIRS))
    # F'(b->a) = (0.30 - 0.25) / 0.25 = 20%;  F'(a->b) = (0.30 - 0.50) / 0.50 = -40%
    np.testing.assert_allclose(f.to_numpy(), [[0.0, -40.0], [20.0, 0.0]], atol=1e-12)


def test_csv_rows_are_sources_and_columns_targets_and_read_back(tmp_path):
    path = tmp_path / "f.csv"
    write_matrix(path, finetune_scores(PAIRS, MONO), digits=2)
    assert path.read_text() == "source,qaa,qab\nqaa,25.00,-25.00\nqab,50.00,25.00\n"
    back = read_matrix(path, kind="percent")
    assert back.langs == LANGS and back.frame().loc["qab", "qaa"] == 50.0


def test_summary_averages_off_diagonal():
    f = finetune_scores(PAIRS, MONO)
    m = finetune_scores(PAIRS, matched_baseline(PAIRS))
    s = summary(MONO.to_dict(), PAIRS, f, m)
    assert s["mean_f"] == pytest.approx(12.5) and s["mean_f_matched"] == pytest.approx(-10.0)
    assert s["diagonal_f"] == {"qaa": pytest.approx(25.0), "qab": pytest.approx(25.0)}
    assert s["f"] == {"qaa": {"qaa": 25.0, "qab": -25.0}, "qab": {"qaa": 50.0, "qab": 25.0}}
    assert s["f_matched"]["qab"]["qaa"] == 20.0 and s["pair_mrr"]["qaa"]["qab"] == 0.30


def test_summary_of_one_language_has_no_mean_rather_than_nan():
    one = pair_frame({("qaa", "qaa"): 0.3}, ["qaa"])
    f = finetune_scores(one, pd.Series({"qaa": 0.2}))
    assert summary({"qaa": 0.2}, one, f, f)["mean_f"] is None


def test_the_scores_stage_runs_in_process(tmp_path, monkeypatch):
    """A stage's main() is callable from a test: params and inputs from the cwd."""
    import importlib.util
    import json

    import yaml
    from conftest import ROOT, tiny_params

    params = tiny_params(languages=LANGS, studied=LANGS, runtime={"tracking": {"enabled": False}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for folder in ("mono", "pairs", "plan"):
        (tmp_path / "metrics" / folder).mkdir(parents=True)
    for s in LANGS:  # the plan: every pair and the diagonal
        (tmp_path / f"metrics/mono/{s}.json").write_text(json.dumps({"mrr": MONO[s]}))
        plan = {"source": s, "targets": LANGS}
        (tmp_path / f"metrics/plan/{s}.json").write_text(json.dumps(plan))
        results = {t: {"mrr": PAIRS.loc[s, t]} for t in LANGS}
        (tmp_path / f"metrics/pairs/{s}.json").write_text(json.dumps(results))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    spec = importlib.util.spec_from_file_location("scores_stage", ROOT / "stages/scores.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    stage.main([])
    assert (tmp_path / "metrics/finetune_scores.csv").read_text().splitlines()[
        2
    ] == "qab,50.00,25.00"
    assert json.loads((tmp_path / "metrics/scores.json").read_text())["mean_f"] == pytest.approx(
        12.5
    )


def test_a_pair_not_trained_is_an_empty_cell_and_left_out_of_the_summary():
    partial = pair_frame({("qaa", "qaa"): 0.25, ("qab", "qaa"): 0.3, ("qab", "qab"): 0.2}, LANGS)
    assert np.isnan(partial.loc["qaa", "qab"])
    f = finetune_scores(partial, MONO)
    s = summary(MONO.to_dict(), partial, f, f)
    assert s["measured_pairs"] == 1 and "qab" not in s["f"]["qaa"]
    assert s["mean_f"] == pytest.approx(f.loc["qab", "qaa"])
