"""The proxies (zero-shot fit, lexical overlap) and how much of F's pair-specific part
they explain: pure functions on small matrices."""

import numpy as np
import pandas as pd
import pytest

from bloodbank.data.overlap import distribution, mean_off_diagonal, overlap_matrix
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.graph.proxies import explained, pair_specific, proxy_covariates, zeroshot_fit
from bloodbank.mlm.runs import first_sentences

LANGS = ["a", "b", "c", "d", "e", "f"]


def frame(values) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(values, dtype=float), index=LANGS, columns=LANGS)


def additive(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame(rng.normal(size=(6, 1)) + rng.normal(size=(1, 6)) * 2 + 5)


def test_overlap_is_one_for_the_same_sample_zero_for_disjoint_and_symmetric():
    p = pd.DataFrame(
        [distribution(np.array(ids), 6) for ids in ([0, 1, 1, 2], [0, 1, 1, 2], [3, 4], [2, 3])],
        index=["w", "x", "y", "z"],
    )
    found = overlap_matrix(p)
    assert found.loc["w", "x"] == pytest.approx(1.0) and found.loc["w", "y"] == 0.0
    assert found.loc["w", "z"] == pytest.approx(0.25) and np.allclose(found, found.T)
    assert mean_off_diagonal(found) == pytest.approx((1 + 0 + 0.25 + 0 + 0.25 + 0.5) / 6)
    assert distribution(np.array([], dtype=np.uint32), 3).sum() == 0


def test_first_sentences_keeps_the_first_and_their_ids():
    split = TokenizedSplit(np.arange(10, dtype=np.uint32), np.array([0, 3, 5, 10]))
    two = first_sentences(split, 2)
    assert len(two) == 2 and list(two.sentence(1)) == [3, 4]
    assert first_sentences(split, None) is split and first_sentences(split, 9) is split


def test_zeroshot_fit_is_zero_on_the_diagonal_and_log_of_the_ratio_elsewhere():
    mrr = frame(np.full((6, 6), 0.1) + np.eye(6) * 0.1)
    fit = zeroshot_fit(mrr)
    assert np.allclose(np.diag(fit), 0) and fit.loc["a", "b"] == pytest.approx(np.log(0.5))
    covs = proxy_covariates(zeroshot=mrr + np.random.default_rng(1).uniform(0, 0.01, (6, 6)))
    off = ~np.eye(6, dtype=bool)
    z = covs["zeroshot_fit"].to_numpy()[off]
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1)


def test_pair_specific_removes_exactly_the_additive_part():
    base = additive()
    assert np.nanmax(np.abs(pair_specific(base))) < 1e-8
    bump = np.zeros((6, 6))
    bump[0, 1], bump[1, 0] = 3, -3
    resid = pair_specific(base + bump)
    assert np.isnan(np.diag(resid)).all() and resid[0, 1] > 1 and resid[1, 0] < -1
    assert np.nansum(resid, axis=0) == pytest.approx(np.zeros(6), abs=1e-8)


def test_explained_credits_pair_specific_signal_not_additive_structure():
    rng = np.random.default_rng(3)
    signal = rng.normal(size=(6, 6))
    f = additive() + 2 * signal + rng.normal(scale=0.1, size=(6, 6))
    covariates = {
        "zeroshot_fit": frame(signal),  # the pair-specific part itself
        "lexical_overlap": frame(rng.normal(size=(6, 6))),  # nothing
        "same_script": additive(5),  # additive only: the language effects hold it already
    }
    table = explained(f, covariates)
    assert table.loc["zeroshot_fit", "pair_specific_r2"] > 0.95
    assert table.loc["lexical_overlap", "pair_specific_r2"] < 0.3
    assert table.loc["same_script", "pair_specific_r2"] == pytest.approx(0, abs=1e-5)
    assert (
        table.loc["proxies_together", "pair_specific_r2"]
        >= table.loc["zeroshot_fit", "pair_specific_r2"]
    )
    assert "typology_together" not in table.index  # one typological covariate: no group


def test_structure_keeps_a_proxy_s_recurring_pattern_and_drops_its_noise():
    from bloodbank.graph.proxies import MIN_STRUCTURE, structure

    rng = np.random.default_rng(4)
    n = 40
    langs = [f"l{i:02d}" for i in range(n)]
    pattern = np.outer(rng.normal(size=n), rng.normal(size=n)) * 0.6  # rank 1, sd ~0.6
    effects = rng.normal(size=(n, 1)) + rng.normal(size=(1, n))  # additive: not structure
    noisy = pd.DataFrame(effects + pattern + rng.normal(size=(n, n)), index=langs, columns=langs)
    low = structure(noisy)
    off = ~np.eye(n, dtype=bool)
    want = np.nan_to_num(pair_specific(pd.DataFrame(pattern)))[off]
    raw = np.nan_to_num(pair_specific(noisy))[off]
    assert np.linalg.matrix_rank(low.to_numpy(), tol=1e-6) == 1
    assert np.corrcoef(low.to_numpy()[off], want)[0, 1] > 0.9 > np.corrcoef(raw, want)[0, 1]
    alone = pd.DataFrame(effects + rng.normal(size=(n, n)), index=langs, columns=langs)
    assert structure(alone) is None  # noise has no component above the threshold
    assert structure(noisy.iloc[: MIN_STRUCTURE - 1, : MIN_STRUCTURE - 1]) is None


def test_a_proxy_enters_with_its_structure_from_ten_languages_on():
    from bloodbank.graph.covariates import pair_covariates

    rng = np.random.default_rng(5)
    n = 30
    langs = [f"l{i:02d}" for i in range(n)]
    proxy = pd.DataFrame(
        np.outer(rng.normal(size=n), rng.normal(size=n)) + 0.5 * rng.normal(size=(n, n)),
        index=langs,
        columns=langs,
    )
    names = list(pair_covariates(langs, typology=False, proxies={"zeroshot_fit": proxy}))
    assert names == ["zeroshot_fit", "zeroshot_fit_structure"]
    few = langs[:6]
    assert list(pair_covariates(few, typology=False, proxies={"zeroshot_fit": proxy})) == [
        "zeroshot_fit"
    ]
