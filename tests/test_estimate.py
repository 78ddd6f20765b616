"""Completing a transfer matrix from a balanced subset, and backtesting it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bloodbank.core.config import EstimateConfig
from bloodbank.graph.backtest import backtest, hide, summarise
from bloodbank.graph.completion import settings_for
from bloodbank.graph.estimate import Settings, estimate, sums
from bloodbank.graph.proxies import pair_specific
from bloodbank.graph.simulate import simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def simulated(n: int, seed: int, inter: float = 3.0, noise: float = 2.0) -> pd.DataFrame:
    """Additive + rank-1 interaction + noise, F in percent, diagonal 0."""
    rng = np.random.default_rng(seed)
    d, r = rng.normal(0, 10, n), rng.normal(0, 15, n)
    u, v = rng.normal(0, inter, n), rng.normal(0, inter, n)
    f = 5 + d[:, None] + r[None, :] + np.outer(u, v) + rng.normal(0, noise, (n, n))
    np.fill_diagonal(f, 0.0)
    langs = [f"q{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(n)]
    return pd.DataFrame(f, index=langs, columns=langs)


FAST = Settings(draws=60, shrinks=(1.0, 3.0))


def test_an_additive_matrix_is_recovered_exactly_from_a_third_of_its_pairs():
    full = simulated(10, seed=1, inter=0.0, noise=0.0)
    seen = hide(full, 0.34, seed=0)
    est = estimate(seen, settings=FAST)
    off = ~np.eye(10, dtype=bool)
    assert np.isnan(seen.to_numpy()[off]).mean() > 0.6
    assert np.allclose(est.point.to_numpy()[off], full.to_numpy()[off], atol=0.05)
    assert est.measured.to_numpy().sum() == 10 * 3


def test_hidden_cells_fall_inside_their_intervals_and_measured_ones_stay():
    full = simulated(12, seed=2)
    seen = hide(full, 0.4, seed=3)
    est = estimate(seen, settings=FAST)
    measured = est.measured.to_numpy()
    assert np.array_equal(est.point.to_numpy()[measured], full.to_numpy()[measured])
    lo, hi = (m.to_numpy() for m in est.cell_interval(0.9))
    hidden = ~measured & ~np.eye(12, dtype=bool)
    truth = full.to_numpy()
    inside = ((truth >= lo) & (truth <= hi))[hidden].mean()
    assert inside >= 0.8
    table = est.summary()
    d_true, _ = (a[0] for a in sums(truth[None]))
    assert ((table["D_low"] <= d_true) & (d_true <= table["D_high"])).mean() >= 0.75
    assert np.allclose(table[[c for c in table if c.startswith("p_")]].sum(axis=1), 1.0)
    assert (table["D_rank_low"] <= table["D_rank_high"]).all()


def test_the_estimate_is_seeded():
    seen = hide(simulated(8, seed=4), 0.5, seed=1)
    a, b = estimate(seen, settings=FAST), estimate(seen, settings=FAST)
    assert np.array_equal(a.draws, b.draws) and a.model == b.model


def test_the_interaction_beats_the_additive_baseline_where_there_is_one():
    full = simulated(14, seed=5, inter=5.0, noise=1.0)
    ours = summarise(backtest(full, [0.4], 2, FAST))
    base = summarise(backtest(full, [0.4], 2, FAST.additive))
    assert ours.loc[0.4, ("mean", "rmse")] < 0.8 * base.loc[0.4, ("mean", "rmse")]


def test_a_low_rank_interaction_is_recovered_in_the_hidden_cells():
    """What the additive model cannot see: the planted rank-1 interaction, read back in
    the cells no pair measured (their pair-specific part, against the truth's)."""
    full = simulated(16, seed=6, inter=5.0, noise=0.5)
    seen = hide(full, 0.4, seed=2)
    hidden = np.isnan(seen.to_numpy()) & ~np.eye(16, dtype=bool)
    truth = pair_specific(full)[hidden]
    ours = estimate(seen, settings=FAST)
    additive = estimate(seen, settings=FAST.additive)
    assert ours.model.rank >= 1
    assert np.corrcoef(pair_specific(ours.point)[hidden], truth)[0, 1] > 0.85  # 0.87-0.96
    assert abs(np.corrcoef(pair_specific(additive.point)[hidden], truth)[0, 1]) < 0.3


def test_a_proxy_of_the_pair_specific_part_improves_the_hidden_cells():
    world = simulate(24, seed=1, proxy_r2=(0.8,))
    seen = hide(world.measured, 0.3, seed=0)
    hidden = np.isnan(seen.to_numpy()) & ~np.eye(24, dtype=bool)

    def rmse(est) -> float:
        return float(np.sqrt(np.mean((est.point - world.truth).to_numpy()[hidden] ** 2)))

    with_proxy = estimate(seen, world.proxies, FAST)
    assert with_proxy.covariates == ["proxy0"]
    assert rmse(with_proxy) < 0.8 * rmse(estimate(seen, None, FAST))


def test_a_proxy_s_structure_improves_the_hidden_cells_beyond_the_raw_proxy():
    from bloodbank.graph.covariates import pair_covariates

    n = 40
    world = simulate(n, seed=2, proxy_r2=(0.43,))  # a proxy about half as informative as
    # measured: its structure matters most where the raw proxy reads least
    seen = hide(world.measured, 8 / (n - 1), seed=0)  # k = 8 pairs per language
    hidden = np.isnan(seen.to_numpy()) & ~np.eye(n, dtype=bool)
    langs = list(world.truth.index)
    both = pair_covariates(langs, typology=False, proxies=world.proxies)
    assert list(both) == ["proxy0", "proxy0_structure"]

    def rmse(covariates) -> float:
        est = estimate(seen, covariates, FAST)
        return float(np.sqrt(np.mean((est.point - world.truth).to_numpy()[hidden] ** 2)))

    assert rmse(both) < 0.95 * rmse({"proxy0": both["proxy0"]})


def test_the_oracle_misses_the_hidden_cells_by_what_its_world_leaves_unknown():
    from bloodbank.graph.covariates import pair_covariates
    from bloodbank.graph.simulate import oracle

    n = 40
    world = simulate(n, seed=2, proxy_r2=(0.43,))
    seen = hide(world.measured, 8 / (n - 1), seed=0)
    hidden = np.isnan(seen.to_numpy()) & ~np.eye(n, dtype=bool)

    def rmse(filled: pd.DataFrame) -> float:
        return float(np.sqrt(np.mean((filled - world.measured).to_numpy()[hidden] ** 2)))

    assert np.array_equal(
        oracle(world, seen).to_numpy()[~hidden], world.measured.to_numpy()[~hidden]
    )
    covariates = pair_covariates(
        list(world.truth.index), world.mono, typology=False, proxies=world.proxies
    )
    ours = rmse(estimate(seen, covariates, FAST).point)
    informed, blind = rmse(oracle(world, seen)), rmse(oracle(world, seen, proxies=False))
    assert informed < min(ours, blind)  # it knows the first component, ours fits it
    # what it cannot know of a cell: the rest the proxy does not read (a Gaussian
    # posterior's variance), the seed noise, and a little of the language effects
    r, prior = world.recipe, np.var(world.recipe.rest[hidden]) / world.recipe.specific_sd**2
    left = r.specific_sd**2 / (1 / prior + 0.43 / (1 - 0.43)) + r.noise**2
    assert np.sqrt(left) < informed < 1.2 * np.sqrt(left)


def test_two_pairs_a_language_leave_room_for_a_proxy():
    # 12 languages, 24 cells: fewer than the additive model's 25 parameters, but its
    # language effects are penalised, so a proxy that reads most of F still enters
    n = 12
    world = simulate(n, seed=0, proxy_r2=(0.9,))
    seen = hide(world.measured, 2 / (n - 1), seed=0)
    with_proxy = estimate(seen, world.proxies, FAST)
    assert with_proxy.covariates == ["proxy0"]
    hidden = np.isnan(seen.to_numpy()) & ~np.eye(n, dtype=bool)

    def rmse(est) -> float:
        return float(np.sqrt(np.mean((est.point - world.measured).to_numpy()[hidden] ** 2)))

    assert rmse(with_proxy) < 0.9 * rmse(estimate(seen, None, FAST))


def test_too_few_pairs_are_refused():
    seen = hide(simulated(6, seed=0), 0.2, seed=0)  # k = 1: 6 cells for 6 languages
    with pytest.raises(ValueError, match="too few"):
        estimate(seen, settings=FAST)


def widths(est) -> float:
    table = est.summary()
    return float((table["D_high"] - table["D_low"] + table["R_high"] - table["R_low"]).mean())


@pytest.mark.slow  # many estimates, averaged
def test_next_pairs_narrow_d_and_r_more_than_random_pairs_on_average():
    """After re-estimation: not better than every random choice (the model is chosen
    again, and the error pool changes), but better than random choices on average."""
    from bloodbank.graph.estimate import next_pairs

    full = simulated(12, seed=7, inter=4.0)
    seen = hide(full, 0.45, seed=2)  # k = 5: enough cells for the interaction
    est = estimate(seen, settings=FAST)
    chosen = next_pairs(est, 6)
    assert len({(s, t) for s, t, _ in chosen}) == 6
    assert all(np.isnan(seen.loc[s, t]) and s != t for s, t, _ in chosen)
    assert all(g > 0 for *_, g in chosen)

    def measured_with(pairs) -> float:
        more = seen.copy()
        for s, t in pairs:
            more.loc[s, t] = full.loc[s, t]
        return widths(estimate(more, settings=FAST))

    hidden = [(s, t) for s in seen.index for t in seen.columns if np.isnan(seen.loc[s, t])]
    rng = np.random.default_rng(0)
    randoms = [
        measured_with([hidden[i] for i in rng.choice(len(hidden), 6, replace=False)])
        for _ in range(5)
    ]
    assert measured_with([(s, t) for s, t, _ in chosen]) < np.mean(randoms)


def test_next_pairs_append_to_params_keeping_its_comments(tmp_path, monkeypatch):
    import yaml
    from conftest import ROOT

    from bloodbank.cli import main
    from bloodbank.core.config import load_params
    from bloodbank.graph.design import plan

    text = (ROOT / "params.yaml").read_text()
    params = yaml.safe_load(text)
    langs = params["studied"][:4]  # four of the default's languages
    text = text.replace(
        f"studied: {params['studied']}".replace("'", ""), f"studied: [{', '.join(langs)}]"
    )
    text = text.replace("  design: all\n", "  design: balanced\n")
    text = text.replace("  fraction: 0.3\n", "  fraction: 0.67\n")
    (tmp_path / "params.yaml").write_text(text)
    full = simulated(4, seed=1)
    full.index = full.columns = langs
    seen = hide(full, 0.67, seed=0)
    (tmp_path / "metrics").mkdir()
    seen.rename_axis("source").to_csv(tmp_path / "metrics/finetune_scores.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["next-pairs", "2", "--append"]) == 0
    after = (tmp_path / "params.yaml").read_text()
    assert "# which ordered pairs get a pair training" in after  # comments kept
    assert after.startswith("# lbb config --use default\n")
    extra = yaml.safe_load(after)["pairs"]["extra"]
    assert len(extra) == 2 and all(np.isnan(seen.loc[s, t]) for s, t in extra)
    targets = plan(langs, load_params(tmp_path / "params.yaml").pairs)
    assert all(t in targets[s] for s, t in extra)
    assert sum(len(t) for t in targets.values()) == 8 + 2  # k = 2, and the new


def test_covariates_hold_mono_mrr_first_and_a_syntactic_distance():
    from bloodbank.graph.covariates import pair_covariates

    langs = ["de", "en", "ja", "hi"]
    mono = pd.Series({"de": 0.28, "en": 0.25, "ja": 0.39, "hi": 0.21})
    cov = pair_covariates(langs, mono)
    assert list(cov)[:2] == ["mono_source", "mono_target"]  # kept first when cells are few
    assert cov["mono_source"].loc["ja", "de"] > cov["mono_source"].loc["hi", "de"]
    assert (cov["mono_target"]["ja"] == cov["mono_target"].loc["de", "ja"]).all()
    dist = cov["syntax_distance"]
    assert (
        dist.loc["de", "en"] < dist.loc["de", "ja"] and dist.loc["en", "de"] == dist.loc["de", "en"]
    )
    synthetic = pair_covariates(["qaa", "qac", "qad"])["syntax_distance"]
    assert synthetic.loc["qaa", "qac"] == 0.0  # the registry gives them the same four features
    assert synthetic.loc["qaa", "qad"] == 0.5  # SOV and postpositions against SVO, prepositions
    assert list(pair_covariates(langs, mono, typology=False)) == ["mono_source", "mono_target"]


def mono_world(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Effects that follow log monolingual MRR closely (the study's Figure 4, sharpened)."""
    rng = np.random.default_rng(seed)
    mono = pd.Series(rng.uniform(0.15, 0.45, n))
    z = np.log(mono.to_numpy())
    z = (z - z.mean()) / z.std()
    d, r = 8 * z + rng.normal(0, 1, n), -15 * z + rng.normal(0, 2, n)
    f = d[:, None] + r[None, :] + rng.normal(0, 6, (n, n))
    np.fill_diagonal(f, 0.0)
    langs = [f"q{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(n)]
    mono.index = langs
    return pd.DataFrame(f, index=langs, columns=langs), mono


def test_monolingual_mrr_helps_where_the_effects_follow_it():
    from bloodbank.graph.covariates import pair_covariates

    errors = {"with": [], "without": []}
    for seed in range(3):
        full, mono = mono_world(16, seed)
        truth = sums(full.to_numpy()[None])[0][0]
        seen = hide(full, 0.2, seed=seed)  # k = 3 pairs per language
        for name, cov in (
            ("with", pair_covariates(list(full.index), mono, False)),
            ("without", None),
        ):
            est = estimate(seen, cov, FAST)
            errors[name].append(np.sqrt(np.mean((est.summary()["D"].to_numpy() - truth) ** 2)))
            if name == "with":
                assert est.covariates == ["mono_source", "mono_target"]
                assert est.model.effects > 0  # cross-validation shrinks d toward the line
    assert np.mean(errors["with"]) < 0.85 * np.mean(errors["without"])


def test_next_pairs_choose_what_the_direct_greedy_chooses():
    """Reading gains through the draws' Gram matrix is the greedy conditioning itself,
    not an approximation: the same pairs, in the same order, with the same gains as
    multiplying the sums by every cell (bench_next_pairs' baseline)."""
    from bench_next_pairs import direct

    from bloodbank.graph.estimate import next_pairs

    n = 9
    f = np.random.default_rng(5).normal(0, 10, (n, n))
    langs = [f"q{chr(97 + i)}" for i in range(n)]
    seen = hide(pd.DataFrame(f, index=langs, columns=langs), 0.4, seed=1)
    est = estimate(seen, settings=Settings(draws=60, ranks=(0, 1)))
    chosen, expected = next_pairs(est, 10), direct(est, 10)
    assert [c[:2] for c in chosen] == [e[:2] for e in expected]
    assert np.allclose([c[2] for c in chosen], [e[2] for e in expected], rtol=1e-9)


def test_next_pairs_focus_on_the_language_whose_type_is_undecided():
    from bloodbank.graph.estimate import next_pairs, undecided

    n = 10
    rng = np.random.default_rng(3)
    a = np.array([10.0, -10, 8, -8, 6, -6, 12, -12, 9, 0.0])  # source effects
    b = np.array([-12.0, 12, -10, 10, -8, 8, 11, -11, 10, -10])  # target effects, sum 0
    a[-1] = b[-1] / 9  # so D of the last language, 9a - b, is 0; every other D is far off
    f = a[:, None] + b[None, :] + rng.normal(0, 1.5, (n, n))
    np.fill_diagonal(f, 0.0)
    langs = [f"q{chr(97 + i)}" for i in range(n)]
    seen = hide(pd.DataFrame(f, index=langs, columns=langs), 0.34, seed=0)
    est = estimate(seen, settings=Settings(draws=200, ranks=(0,)))
    weights = undecided(*sums(est.draws))
    assert np.argmax(weights[:n]) == n - 1
    chosen = next_pairs(est, 4, focus="types")
    assert chosen[0][0] == langs[-1] and sum(s == langs[-1] for s, _, _ in chosen) >= 3
    everything = next_pairs(est, 4, focus="sums")
    assert everything[0][0] != langs[-1] and sum(s == langs[-1] for s, _, _ in everything) < 3
    with pytest.raises(ValueError, match="focus"):
        next_pairs(est, 1, focus="nothing")


def test_an_adaptive_plan_grows_a_smaller_design_to_the_same_budget():
    from bloodbank.graph.backtest import grow

    full = simulated(10, seed=8)
    start = hide(full, 0.23, seed=1)  # k = 2
    budget = int(hide(full, 0.34, seed=1).notna().to_numpy().sum()) - 10  # k = 3, diagonal off
    grown = grow(full, start, budget, FAST, round_size=4)
    off = ~np.eye(10, dtype=bool)
    assert int(grown.notna().to_numpy()[off].sum()) == budget
    assert grown.notna().to_numpy()[start.notna().to_numpy()].all()  # nothing dropped
    assert np.array_equal(
        grown.to_numpy()[off & grown.notna().to_numpy()],
        full.to_numpy()[off & grown.notna().to_numpy()],
    )
    again = grow(full, start, budget, FAST, round_size=4)
    assert grown.equals(again)
    rows = backtest(full, [0.34], 2, FAST, adaptive_from=0.23)
    assert len(rows) == 2 and rows["type_accuracy"].between(0, 1).all()


def test_lbb_backtest_with_mono_mrrs_and_an_adaptive_plan(tmp_path, capsys):
    from bloodbank.cli import main

    full, mono = mono_world(10, seed=4)
    full.rename_axis("source").to_csv(tmp_path / "full.csv")
    mono.rename_axis("language").rename("mrr").to_csv(tmp_path / "mono.csv")
    args = ["backtest", "--matrix", str(tmp_path / "full.csv"), "--kind", "percent"]
    args += ["--mono", str(tmp_path / "mono.csv"), "--fraction", "0.34", "--draws", "1"]
    args += ["--bootstrap", "20", "--adaptive", "0.23", "--out", str(tmp_path / "bt")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ours, adaptive from 0.23" in out and "additive" in out
    assert (tmp_path / "bt" / "backtest.png").is_file()
    del mono["qaa"]
    mono.rename_axis("language").rename("mrr").to_csv(tmp_path / "mono.csv")
    assert main(args) == 1
    assert "no monolingual MRR for qaa" in capsys.readouterr().err


def test_the_library_s_defaults_are_the_pipeline_s():
    """A library call (``Settings()``) and the estimate stage under default params try
    the same models: the defaults live in the typed config only."""
    assert settings_for(EstimateConfig(), seed=0) == Settings()
