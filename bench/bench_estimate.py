"""How well the estimate recovers full matrices from 20%, 30% and 50% of the pairs.

Backtests (`bloodbank.graph.backtest`) of our estimate (additive + low-rank + covariates,
chosen by cross-validation) against the additive baseline, on:

- simulated 22-language matrices with the study's languages: additive effects, a
  rank-1 or rank-2 interaction and per-cell noise, at the scales of the study's 6-language
  tables (source effects sd 9, target effects sd 18 and residual sd about 4 percentage
  points, from an additive fit of Table 5; noise drawn from Table 6's standard deviations
  relative to the target's MRR, median 2.3 points);
- the study's Table 5 (6 languages, mean MRRs, read with rows as sources);
- the embedded default's own graph (metrics/finetune_scores.csv, 4 languages), when
  `dvc repro` has run.

A fraction that leaves a language fewer than 2 pairs is reported as n/a. The figures are
quality, not time: they do not depend on the machine.

    python bench/bench_estimate.py                # about 10 minutes on 2 cores
    python bench/bench_estimate.py --worlds 2 --draws 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.languages import REGISTRY
from bloodbank.graph.backtest import WORST, backtest, summarise
from bloodbank.graph.covariates import pair_covariates
from bloodbank.graph.design import per_language
from bloodbank.graph.estimate import Settings
from bloodbank.graph.matrix_io import read_matrix

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.2, 0.3, 0.5)

# The study's Table 5 (mean MRR over five seeds; diagonal = monolingual) and Table 6
# (their standard deviations), rows and columns in this order.
T5_LANGS = ["de", "en", "he", "ne", "hi", "ja"]
TABLE5 = np.array(
    [
        [0.2801, 0.3177, 0.2881, 0.2231, 0.2685, 0.3954],
        [0.3401, 0.2508, 0.2761, 0.2238, 0.2615, 0.3927],
        [0.3527, 0.3295, 0.2612, 0.2536, 0.2912, 0.4041],
        [0.3255, 0.2861, 0.2716, 0.1510, 0.2531, 0.3887],
        [0.3221, 0.2981, 0.2873, 0.2415, 0.2083, 0.4045],
        [0.3730, 0.3536, 0.3194, 0.2825, 0.3232, 0.3869],
    ]
)
TABLE6 = np.array(
    [
        [0.028, 0.0031, 0.0118, 0.0013, 0.0103, 0.0068],
        [0.0062, 0.0229, 0.0061, 0.0054, 0.0071, 0.0086],
        [0.0037, 0.0036, 0.0113, 0.0019, 0.0051, 0.0023],
        [0.0287, 0.0049, 0.0047, 0.0041, 0.0094, 0.0078],
        [0.0033, 0.0035, 0.0113, 0.0276, 0.0531, 0.0196],
        [0.0057, 0.0059, 0.0062, 0.0066, 0.0061, 0.0029],
    ]
)


def noise_levels() -> np.ndarray:
    """Table 6's seed-to-seed sd of each off-diagonal cell, as points of F."""
    off = ~np.eye(6, dtype=bool)
    return (100 * TABLE6 / np.diag(TABLE5)[None, :])[off]


def table5() -> pd.DataFrame:
    f = 100 * (TABLE5 - np.diag(TABLE5)[None, :]) / np.diag(TABLE5)[None, :]
    return pd.DataFrame(f, index=T5_LANGS, columns=T5_LANGS)


def simulated(seed: int, rank: int, interaction: float = 4.0) -> pd.DataFrame:
    """A 22-language world at Table 5's scales; the interaction has sd ``interaction``."""
    langs = [c for c, lang in REGISTRY.items() if lang.studied][:22]
    n = len(langs)
    rng = np.random.default_rng([seed, rank])
    d, r = rng.normal(0, 9, n), rng.normal(0, 18, n)
    u = rng.normal(0, 1, (n, rank))
    v = rng.normal(0, 1, (n, rank))
    inter = u @ v.T
    inter *= interaction / inter.std()
    script = pair_covariates(langs).get("same_script")
    bonus = 6.0 * script.to_numpy() if script is not None else 0.0  # a shared script helps
    noise = rng.choice(noise_levels(), size=(n, n)) * rng.standard_normal((n, n))
    f = 10 + d[:, None] + r[None, :] + inter + bonus + noise
    np.fill_diagonal(f, 0.0)
    return pd.DataFrame(f, index=langs, columns=langs)


def run(name: str, full: pd.DataFrame, draws: int, bootstrap: int) -> pd.DataFrame:
    n = len(full)
    fractions = [f for f in FRACTIONS if per_language(n, f) >= 2]
    if not fractions:
        return pd.DataFrame()
    covariates = pair_covariates(list(full.index))
    ours = Settings(draws=bootstrap)
    tables = {}
    for method, settings, cov in (
        ("ours", ours, covariates),
        ("additive", ours.additive, None),
    ):
        tables[method] = summarise(backtest(full, fractions, draws, settings, cov))
    table = pd.concat(tables, names=["method"])
    return pd.concat({name: table}, names=["matrix"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worlds", type=int, default=3, help="simulated worlds per rank")
    parser.add_argument("--draws", type=int, default=10, help="designs per fraction")
    parser.add_argument("--bootstrap", type=int, default=200, help="draws per estimate")
    args = parser.parse_args()
    parts = []
    for rank in (1, 2):
        for seed in range(args.worlds):
            name = f"simulated rank {rank} #{seed}"
            parts.append(run(name, simulated(seed, rank), args.draws, args.bootstrap))
    parts.append(run("Table 5 (6 languages)", table5(), args.draws, args.bootstrap))
    default = ROOT / "metrics" / "finetune_scores.csv"
    if default.is_file():
        frame = read_matrix(default, kind="percent").frame()
        parts.append(run("embedded default (4)", frame, args.draws, args.bootstrap))
    results = pd.concat([p for p in parts if not p.empty])
    pd.set_option("display.width", 200)
    print(results.round(3).to_string())
    sims = results.loc[[i for i in results.index if i[0].startswith("simulated")]]
    pooled = sims.groupby(level=["method", "fraction"]).agg(
        {
            **{(s, m): "mean" for s in ("mean",) for m in sims["mean"].columns},
            **{("worst", m): WORST[m] for m in sims["worst"].columns},
        }
    )
    print("\nsimulated worlds pooled (mean of means; worst of worsts):")
    print(pooled.round(3).to_string())


if __name__ == "__main__":
    main()
