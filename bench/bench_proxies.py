"""How much of F's pair-specific part the proxies predict, what they cost, and what they
buy the estimate, on a world of the pipeline's own with every pair trained.

For each seed, runs the pipeline to the estimate stage in a clone of this repository
(`lbb repro estimate`, every pair trained: `pairs.design=all`) and reads what it wrote:
the full F, the monolingual MRRs, the zeroshot stages' scores and the overlap stage's
matrix. It prints:

1. per covariate, and for the proxies and the typological covariates together, the share
   of F's pair-specific variance it predicts (what a source effect plus a target effect
   leave over; ``bloodbank.graph.proxies.explained``) and its Spearman with F;
2. the proxies' cost beside the trainings they stand in for: the seconds of all n²
   zero-shot scores and of the overlap, against the mean seconds of one pair training
   (each from the run's own timing files, so the ratio holds on this machine only);
3. backtests on the first seed's full F, or on each of ``--backtest-seeds`` (balanced
   designs, ``graph.backtest``): our
   estimate with the proxies, without them, the additive model, and the adaptive plan
   (with the proxies), mean and worst Spearman of D and R against the full graph, beside
   the seed-to-seed agreement of two full graphs (D and R of seed 0 against seed 1). The
   issue's goal at 30%: Spearman(D) and Spearman(R) >= 0.95, or within 0.02 of that
   agreement, whichever is lower;
4. with two seeds, how much of the pair-specific part reproduces from seed to seed, and
   how much of the second seed's the first seed's proxies predict: a world whose
   pair-specific part is mostly seed noise cannot show what the proxies are worth.

    python bench/bench_proxies.py                                   # synthetic-large, 2 seeds
    python bench/bench_proxies.py --config default --seeds 0        # the embedded default
    python bench/bench_proxies.py --config synthetic-wide --keep DIR --from-kept \
        --backtest-seeds 0,1                           # a kept run again, both graphs
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from bench_planted import clone, set_params, sh
from scipy import stats

from bloodbank.core.io import read_json
from bloodbank.graph.backtest import agreement, backtest, summarise
from bloodbank.graph.covariates import pair_covariates
from bloodbank.graph.design import per_language
from bloodbank.graph.estimate import Settings, sums
from bloodbank.graph.matrix_io import read_mono_mrr
from bloodbank.graph.proxies import (
    PROXIES,
    explained,
    pair_specific,
    proxy_covariates,
    read_overlap,
    read_zeroshot,
)

FRACTIONS = (0.2, 0.3, 0.5, 0.7)  # those that leave every language 2 pairs or more
GOAL = 0.95
MIN_SHARED = 0.3  # a shared share below which the proxies' share of it is not read


def run_seed(repo: Path, seed: int, keep: Path) -> Path:
    """Every pair trained and scored under ``seed``; its metrics and timings, copied."""
    set_params(repo, [f"seed={seed}"])
    sh(["lbb", "repro", "estimate"], repo)
    dest = keep / f"seed-{seed}"
    for name in ("metrics", "logs"):
        shutil.rmtree(dest / name, ignore_errors=True)
        shutil.copytree(repo / name, dest / name)
    return dest


def inputs(folder: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """F, the proxies as covariates, and the monolingual MRRs of one run."""
    f = pd.read_csv(folder / "metrics" / "finetune_scores.csv", index_col=0)
    langs = list(f.index)
    zs = read_zeroshot(langs, lambda s: folder / "metrics" / "zeroshot" / f"{s}.json")
    proxies = proxy_covariates(zs, read_overlap(langs, folder / "metrics" / "overlap.csv"))
    mono = pd.Series(read_mono_mrr(folder / "metrics" / "scores.json"))
    return f, proxies, mono


def costs(folder: Path) -> dict[str, float]:
    """Seconds of the proxies and of one pair training, from the run's timing files."""
    logs = folder / "logs" / "timings"
    zeroshot = sum(read_json(p)["seconds"] for p in (logs / "zeroshot").glob("*.json"))
    process = read_json(logs / "process" / "overlap.json")
    pairs = [read_json(p)["seconds"] for p in (logs / "pair").glob("*.json")]
    return {
        "zeroshot_s": zeroshot,
        "overlap_s": process["ended"] - process["main"],
        "pair_training_s": float(np.mean(pairs)),
        "pair_trainings": len(pairs),
    }


def backtests(f: pd.DataFrame, proxies: dict, mono: pd.Series, draws: int, boot: int):
    """Balanced designs of each fraction (2 pairs a language or more), estimated four
    ways; the adaptive plan grows the smallest design to each larger one's budget."""
    langs = list(f.index)
    fractions = [x for x in FRACTIONS if per_language(len(langs), x) >= 2]
    with_proxies = pair_covariates(langs, mono, proxies=proxies)
    without = pair_covariates(langs, mono)
    ours = Settings(draws=boot)
    runs = {
        "ours + proxies": (ours, with_proxies, None),
        "ours, no proxies": (ours, without, None),
        "additive": (ours.additive, None, None),
        "adaptive + proxies": (ours, with_proxies, fractions[0]),
    }
    tables = {}
    for name, (settings, cov, start) in runs.items():
        table = backtest(f, fractions, draws, settings, cov, adaptive_from=start)
        table = table[table["fraction"] > start] if start is not None else table
        tables[name] = summarise(table)[
            [
                ("mean", "spearman_d"),
                ("worst", "spearman_d"),
                ("mean", "spearman_r"),
                ("worst", "spearman_r"),
            ]
        ]
    return pd.concat(tables, names=["method"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="synthetic-large", help="a configs/ name")
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds (two give the agreement)")
    ap.add_argument("--set", action="append", default=["pairs.design=all"], help="KEY=VALUE")
    ap.add_argument("--draws", type=int, default=10, help="designs per fraction")
    ap.add_argument("--bootstrap", type=int, default=100, help="bootstrap draws per estimate")
    ap.add_argument("--keep", type=Path, help="keep each seed's metrics and logs here")
    ap.add_argument("--from-kept", action="store_true", help="read --keep, train nothing")
    ap.add_argument(
        "--backtest-seeds",
        help="comma-separated seeds whose full graphs are backtested (default: the first of "
        "--seeds); several show whether a change to the estimate helps beyond one graph",
    )
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        keep = args.keep or Path(tmp) / "kept"
        if not args.from_kept:
            repo = clone(Path(tmp), None if args.config == "default" else args.config, args.set)
            for seed in seeds:
                run_seed(repo, seed, keep)
        report(keep, seeds, args)


def margins(f: pd.DataFrame, proxies: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Spearman of each proxy's row means with D and of its column means with R: what a
    proxy says of donation and recipience before any pair is trained."""
    d, r = (a[0] for a in sums(f.to_numpy(dtype=float)[None]))
    rows = {}
    for name, frame in proxies.items():
        values = frame.loc[f.index, f.columns].to_numpy(dtype=float).copy()
        np.fill_diagonal(values, np.nan)
        rows[name] = {
            "D from row means": stats.spearmanr(d, np.nanmean(values, axis=1)).statistic,
            "R from column means": stats.spearmanr(r, np.nanmean(values, axis=0)).statistic,
        }
    return pd.DataFrame(rows).T


def reproducible(a: tuple, b: tuple) -> dict[str, float | None]:
    """How much of the pair-specific part two seeds' runs ``a`` and ``b`` (each ``inputs``'
    F, proxies and mono MRRs) share, and how much of b's the proxies of a predict.

    A proxy computed from a seed's own mono models can read that seed's noise too, so its
    R² on the same seed may exceed the shared share; on the other seed's graph it
    predicts only what reproduces. Their ratio is the share of the reproducible part the
    proxies predict, which is what ``bench_estimate``'s ``--proxy-r2`` means (a simulated
    proxy reads the noise-free pair-specific part). Below a shared share of
    ``MIN_SHARED`` the ratio is mostly the noise of two small numbers: None."""
    (fa, pa, ma), (fb, _, _) = a, b
    ra, rb = pair_specific(fa), pair_specific(fb)
    cells = ~np.isnan(ra) & ~np.isnan(rb)
    shared = float(np.corrcoef(ra[cells], rb[cells])[0, 1])
    across = explained(fb, pair_covariates(list(fa.index), ma, typology=False, proxies=pa))
    # one proxy column alone (no structure below MIN_STRUCTURE languages) forms no group
    group = "proxies_together" if "proxies_together" in across.index else PROXIES[0]
    r2 = float(across.loc[group, "pair_specific_r2"])
    return {"shared": shared, "r2": r2, "ratio": r2 / shared if shared >= MIN_SHARED else None}


def _reproducible_line(found: dict, first: int, second: int) -> str:
    ratio = found["ratio"]
    return (
        f"pair-specific part: Pearson {found['shared']:.3f} between seeds {first} and "
        f"{second} (the share that is not seed noise); seed {first}'s proxies predict "
        f"{found['r2']:.3f} of seed {second}'s: "
        + ("too noisy to say" if ratio is None else f"{ratio:.2f} of what reproduces")
    )


def report(keep: Path, seeds: list[int], args: argparse.Namespace) -> None:
    pd.set_option("display.width", 200)
    runs = {s: inputs(keep / f"seed-{s}") for s in seeds}
    n = len(runs[seeds[0]][0])
    print(f"{args.config} with {' '.join(args.set)}: {n} languages, {n * (n - 1)} pairs trained")
    for seed, (fs, px, mn) in runs.items():
        table = explained(fs, pair_covariates(list(fs.index), mn, proxies=px))
        print(f"\nseed {seed}: share of F's pair-specific variance each covariate predicts")
        print(table.round(3).to_string())
        print(f"seed {seed}: D and R ranked by the proxies alone (Spearman), no pair trained")
        print(margins(fs, px).round(3).to_string())
    for seed in seeds:
        c = costs(keep / f"seed-{seed}")
        proxy_s = c["zeroshot_s"] + c["overlap_s"]
        print(
            f"\nseed {seed} cost: {n * n} zero-shot scores {c['zeroshot_s']:.1f} s, overlap "
            f"{c['overlap_s']:.1f} s; one pair training {c['pair_training_s']:.1f} s (mean of "
            f"{c['pair_trainings']}): the proxies cost {proxy_s / c['pair_training_s']:.1f} "
            "pair trainings (process start-up left out of both)"
        )
    if len(seeds) > 1:
        agree = agreement(runs[seeds[0]][0], runs[seeds[1]][0])
        bar = {k: min(GOAL, v - 0.02) for k, v in agree.items()}
        print(
            f"\nseed {seeds[0]} vs {seeds[1]}, full graphs: Spearman(D) "
            f"{agree['spearman_d']:.3f}, Spearman(R) {agree['spearman_r']:.3f}; goal at 30%: "
            f"D >= {bar['spearman_d']:.3f}, R >= {bar['spearman_r']:.3f}"
        )
        for first, second in (seeds[:2], seeds[1::-1]):
            found = reproducible(runs[first], runs[second])
            print(_reproducible_line(found, first, second))
    chosen = [int(s) for s in args.backtest_seeds.split(",")] if args.backtest_seeds else seeds[:1]
    tables = {}
    for seed in chosen:
        fs, px, mn = runs[seed] if seed in runs else inputs(keep / f"seed-{seed}")
        tables[seed] = backtests(fs, px, mn, args.draws, args.bootstrap)
        print(f"\nbacktest on seed {seed}'s full F ({args.draws} balanced designs a fraction):")
        print(tables[seed].round(3).to_string())
    if args.keep:
        found = {f"seed {k}": json.loads(t.to_json()) for k, t in tables.items()}
        (args.keep / "backtest.json").write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
