"""How well a fraction of the pairs recovers a full matrix: hide, estimate, compare.

Each draw plans a balanced design (its own seed) on a full matrix, keeps only those
cells, completes the matrix with ``graph.estimate`` and compares with the truth: the
Spearman correlation of donation D and of recipience R, the share of blood types right,
the RMSE of the hidden cells, and how many hidden cells fall inside their 90% interval.
The additive model (rank 0, no covariates) is the baseline the issue names. An
adaptive draw spends the same budget differently: a smaller balanced design first, then
rounds of `lbb next-pairs` (``grow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from bloodbank.graph.design import balanced, per_language
from bloodbank.graph.estimate import (
    DEFAULT,
    LEVEL,
    Settings,
    estimate,
    next_pairs,
    on_fit,
    sums,
    type_of,
)

METRICS = ("spearman_d", "spearman_r", "type_accuracy", "rmse", "coverage")
WORST = {m: "max" if m == "rmse" else "min" for m in METRICS}  # the worst draw of each


def hide(full: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """``full`` with only a balanced design's cells kept (NaN elsewhere, diagonal kept)."""
    langs = list(full.index)
    keep = set(balanced(langs, per_language(len(langs), fraction), seed))
    out = full.copy()
    for s in langs:
        for t in langs:
            if s != t and (s, t) not in keep:
                out.loc[s, t] = np.nan
    return out


def score(full: pd.DataFrame, seen: pd.DataFrame, est) -> dict[str, float]:
    """The metrics of one estimate against the full matrix."""
    truth = full.to_numpy(dtype=float)
    d_true, r_true = (a[0] for a in sums(truth[None]))
    d_hat, r_hat = (a[0] for a in sums(est.point.to_numpy()[None]))
    hidden = ~np.eye(len(truth), dtype=bool) & np.isnan(seen.to_numpy(dtype=float))
    lo, hi = (m.to_numpy() for m in est.cell_interval(LEVEL))
    inside = (truth >= lo) & (truth <= hi)
    error = est.point.to_numpy() - truth
    return {
        "spearman_d": float(stats.spearmanr(d_true, d_hat).statistic),
        "spearman_r": float(stats.spearmanr(r_true, r_hat).statistic),
        "type_accuracy": float(
            np.mean(np.array(type_of(d_true, r_true)) == np.array(type_of(d_hat, r_hat)))
        ),
        "rmse": float(np.sqrt(np.mean(error[hidden] ** 2))) if hidden.any() else 0.0,
        "coverage": float(inside[hidden].mean()) if hidden.any() else 1.0,
    }


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    """Spearman of D and of R between two full graphs (two seeds' runs of one world):
    the most a backtest against either can be asked for."""
    (da, ra), (db, rb) = (tuple(x[0] for x in sums(m.to_numpy()[None])) for m in (a, b))
    return {
        "spearman_d": float(stats.spearmanr(da, db).statistic),
        "spearman_r": float(stats.spearmanr(ra, rb).statistic),
    }


def grow(
    full: pd.DataFrame,
    seen: pd.DataFrame,
    budget: int,
    settings: Settings,
    covariates: dict[str, pd.DataFrame] | None = None,
    round_size: int = 8,
) -> pd.DataFrame:
    """``seen`` grown to ``budget`` measured pairs the way a researcher would with
    `lbb next-pairs`: rounds of ``round_size`` pairs, each chosen from the estimate of
    everything measured so far, then "trained" (copied from ``full``)."""
    seen = seen.copy()
    off = ~np.eye(len(full), dtype=bool)
    while (have := int(seen.notna().to_numpy()[off].sum())) < budget:
        est = estimate(seen, covariates, settings)
        chosen = next_pairs(est, min(round_size, budget - have))
        if not chosen:
            break
        for s, t, _ in chosen:
            seen.loc[s, t] = full.loc[s, t]
    return seen


def backtest(
    full: pd.DataFrame,
    fractions: Sequence[float],
    draws: int,
    settings: Settings = DEFAULT,
    covariates: dict[str, pd.DataFrame] | None = None,
    progress: bool = False,
    adaptive_from: float | None = None,
    round_size: int = 8,
) -> pd.DataFrame:
    """One row per (fraction, draw): the metrics of that draw's estimate. With
    ``adaptive_from``, each draw starts from a balanced design of that fraction instead
    and grows it with next-pairs rounds of ``round_size`` (``grow``) to the balanced
    design's budget."""
    rows = []
    jobs = [(fraction, k) for fraction in fractions for k in range(draws)]
    off = ~np.eye(len(full), dtype=bool)
    bar = tqdm(jobs, desc="backtest", unit="draw", disable=not progress)
    # a draw is hundreds of fits, minutes at 70 languages: the inner bar counts them
    fits = tqdm(desc="model fits", unit="fit", leave=False, disable=not progress)
    with bar, fits, on_fit(fits.update):
        for fraction, k in bar:
            chosen = replace(settings, seed=k)
            seen = hide(full, fraction, seed=k)
            if adaptive_from is not None and adaptive_from < fraction:
                budget = int(seen.notna().to_numpy()[off].sum())
                start = hide(full, adaptive_from, seed=k)
                seen = grow(full, start, budget, chosen, covariates, round_size)
            est = estimate(seen, covariates, chosen)
            rows.append({"fraction": fraction, "draw": k, **score(full, seen, est)})
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and worst case of each metric per fraction (worst coverage: the lowest)."""
    grouped = results.groupby("fraction")
    table = pd.concat(
        {"mean": grouped[list(METRICS)].mean(), "worst": grouped[list(METRICS)].agg(WORST)},
        axis=1,
    )
    return table


LABELS = {
    "spearman_d": "Spearman of D",
    "spearman_r": "Spearman of R",
    "type_accuracy": "blood types right",
    "rmse": "RMSE of hidden cells (F, %)",
    "coverage": "hidden cells inside 90% interval",
}
GOALS = {"spearman_d": 0.95, "spearman_r": 0.95, "type_accuracy": 0.95, "coverage": 0.85}


def figure(methods: dict[str, pd.DataFrame]):
    """Each metric against the fraction of pairs measured: mean (line) and worst draw
    (dashed) per method; the issue's goals as grey lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.0))
    for ax, metric in zip(axes, METRICS, strict=True):
        colours = ("#2e5fa8", "#7f8c8d", "#c0392b")
        for (name, table), colour in zip(methods.items(), colours, strict=False):
            x = table.index.to_numpy()
            ax.plot(x, table[("mean", metric)], "o-", color=colour, label=f"{name}, mean")
            ax.plot(x, table[("worst", metric)], "x--", color=colour, label=f"{name}, worst")
        if metric in GOALS:
            ax.axhline(GOALS[metric], color="0.6", lw=0.8)
        ax.set_title(LABELS[metric])
        ax.set_xlabel("fraction of pairs measured")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
