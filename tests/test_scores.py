import numpy as np
import pytest

from bloodbank.scores import finetune_scores, matched_baseline, matrix_csv, summary

LANGS = ["aa", "bb"]
MONO = {"aa": 0.20, "bb": 0.40}
PAIRS = {("aa", "aa"): 0.25, ("aa", "bb"): 0.30, ("bb", "aa"): 0.30, ("bb", "bb"): 0.50}


def test_f_is_equation_4_in_percent():
    f = finetune_scores(PAIRS, MONO, LANGS)
    # F(a->b) = (0.30 - 0.40) / 0.40 = -25%;  F(b->a) = (0.30 - 0.20) / 0.20 = +50%
    np.testing.assert_allclose(f, [[25.0, -25.0], [50.0, 25.0]])


def test_compute_matched_baseline_uses_the_diagonal():
    f = finetune_scores(PAIRS, matched_baseline(PAIRS, LANGS), LANGS)
    # F'(b->a) = (0.30 - 0.25) / 0.25 = 20%;  F'(a->b) = (0.30 - 0.50) / 0.50 = -40%
    np.testing.assert_allclose(f, [[0.0, -40.0], [20.0, 0.0]], atol=1e-12)


def test_csv_rows_are_sources_and_columns_targets():
    f = finetune_scores(PAIRS, MONO, LANGS)
    assert matrix_csv(f, LANGS, 2) == "source,aa,bb\naa,25.00,-25.00\nbb,50.00,25.00\n"


def test_summary_averages_off_diagonal():
    f = finetune_scores(PAIRS, MONO, LANGS)
    m = finetune_scores(PAIRS, matched_baseline(PAIRS, LANGS), LANGS)
    s = summary(LANGS, MONO, PAIRS, f, m)
    assert s["mean_f"] == pytest.approx(12.5) and s["mean_f_matched"] == pytest.approx(-10.0)
    assert s["diagonal_f"] == {"aa": pytest.approx(25.0), "bb": pytest.approx(25.0)}
    assert not np.isnan(s["mean_f"])
    assert s["f"] == {"aa": {"aa": 25.0, "bb": -25.0}, "bb": {"aa": 50.0, "bb": 25.0}}
    assert s["f_matched"]["bb"]["aa"] == 20.0
