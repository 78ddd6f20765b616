"""How well the estimate recovers full matrices from 20%, 30% and 50% of the pairs.

Backtests (`bloodbank.graph.backtest`) of our estimate (additive + low-rank + covariates,
chosen by cross-validation) against the additive baseline, and of an adaptive plan that
spends the same budget as a balanced design in two steps: a balanced 20% first, then
rounds of 8 pairs chosen by `lbb next-pairs` (default focus: undecided types and ranks)
from the estimate so far. On:

- simulated 22-language matrices with the study's languages: additive effects, a
  rank-1 or rank-2 interaction and per-cell noise, at the scales of the study's 6-language
  tables (source effects sd 9, target effects sd 18 and residual sd about 4 percentage
  points, from an additive fit of Table 5; noise drawn from Table 6's standard deviations
  relative to the target's MRR, median 2.3 points). Each language's monolingual MRR is
  its value in the study's Table 7 (the one language the table's text lacks: their mean),
  and the effects correlate with it: d with log MRR at +0.5 and r at -0.8, below what
  Table 5's own six languages give (+0.86 and -0.94; the study: recipients have low
  monolingual MRR, donors high, "to a lesser extent"). The worlds marked "mono carries
  nothing" draw the effects independently of it;
- the study's Table 5 (6 languages, mean MRRs, read with rows as sources);
- the embedded default's own graph (metrics/finetune_scores.csv, 4 languages), when
  `dvc repro` has run.

A fraction that leaves a language fewer than 2 pairs is reported as n/a.

``--suite realistic`` backtests worlds with the structure measured on the study's real
22 × 22 matrix (``bloodbank.graph.simulate``: 60% additive, a pair-specific part whose
first component holds 35% of it, Table 6's seed noise) at 22, 50, 100 and 300
languages, with a proxy of the pair-specific part as informative as the pipeline's
proxies measured on its own worlds (``--proxy-r2``, from bench_proxies). At 22 languages
it trains 20%, 30% and 50% of the pairs; from 50 on, k = 8 pairs per language. It
prints the goal table: mean and worst Spearman of D and R against the full graph, for
our estimate with the proxy (the proxy and its low-rank structure, as the pipeline's
estimate takes them), with the raw proxy only and without any, the additive model and
the adaptive plan (``--methods`` picks some), beside the agreement of two full runs of
the same world (another draw of seed noise) and an oracle's estimate from the same cells,
which knows how the world was drawn (``graph.simulate.oracle``): what the world's
information allows any estimate, with the proxy and without.
The figures are quality, not time: they do not depend on the machine.

    python bench/bench_estimate.py                          # both suites
    python bench/bench_estimate.py --suite study --worlds 2 --draws 5
    python bench/bench_estimate.py --suite realistic --sizes 22,50 --draws 3
    python bench/bench_estimate.py --figure docs/img/backtest.png --worlds 2 --draws 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.languages import REGISTRY
from bloodbank.graph.backtest import WORST, agreement, backtest, hide, summarise
from bloodbank.graph.covariates import pair_covariates
from bloodbank.graph.design import per_language
from bloodbank.graph.estimate import Settings
from bloodbank.graph.matrix_io import read_matrix, read_mono_mrr
from bloodbank.graph.proxies import STRUCTURE
from bloodbank.graph.simulate import World, oracle, simulate

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.2, 0.3, 0.5)
ADAPTIVE_FROM = 0.2  # the adaptive plan: this balanced share, then next-pairs rounds of 8
PROXY_R2 = 0.9  # the realistic suite's proxy: the share of the noise-free pair-specific
# part it reads, as bench_proxies measures it (what one seed's proxies predict of the other
# seed's pair-specific part, over the share the two seeds have in common): 0.90 and 0.92
# on synthetic-wide (default recipe); 0.98 and 0.85 on synthetic-large (the study's
# recipe, the code of 2026-12-05). A proxy's R² on its own seed's graph is not this
# share: seed noise dilutes it, and synthetic-large's 0.415 and 0.455 were this suite's
# 0.43 until 2026-12-06. --proxy-r2 0.43 runs a proxy about half as informative.

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


# The study's Table 7: monolingual MRR (%) of its languages (one is missing from the text).
TABLE7_CODES = "my ne de hi en hu hy ar he ru zh ta ko ga ja fi cy te el fr pms".split()
TABLE7_MRR = "23.3 24.2 24.7 25.0 25.9 27.2 28.3 32.1 33.4 34.3 36.3 36.4 36.5 36.7 37.6 38.0 "
TABLE7_MRR += "39.0 40.0 41.0 41.4 58.9"
TABLE7 = {c: float(v) for c, v in zip(TABLE7_CODES, TABLE7_MRR.split(), strict=True)}
RHO = (0.5, -0.8)  # correlation of d with log monolingual MRR, and of r


def simulated(
    seed: int, rank: int, rho: tuple[float, float] = RHO, interaction: float = 4.0
) -> tuple[pd.DataFrame, pd.Series]:
    """A 22-language world at Table 5's scales and the languages' monolingual MRRs; the
    interaction has sd ``interaction``."""
    langs = [c for c, lang in REGISTRY.items() if lang.studied][:22]
    n = len(langs)
    rng = np.random.default_rng([seed, rank, int(rho != (0.0, 0.0))])
    fill = float(np.mean(list(TABLE7.values())))
    mono = pd.Series([TABLE7.get(c, fill) / 100 for c in langs], index=langs)
    z = np.log(mono.to_numpy())
    z = (z - z.mean()) / z.std()

    def effect(sd: float, corr: float) -> np.ndarray:
        return sd * (corr * z + np.sqrt(1 - corr**2) * rng.standard_normal(n))

    d, r = effect(9, rho[0]), effect(18, rho[1])
    u = rng.normal(0, 1, (n, rank))
    v = rng.normal(0, 1, (n, rank))
    inter = u @ v.T
    inter *= interaction / inter.std()
    script = pair_covariates(langs).get("same_script")
    bonus = 6.0 * script.to_numpy() if script is not None else 0.0  # a shared script helps
    noise = rng.choice(noise_levels(), size=(n, n)) * rng.standard_normal((n, n))
    f = 10 + d[:, None] + r[None, :] + inter + bonus + noise
    np.fill_diagonal(f, 0.0)
    return pd.DataFrame(f, index=langs, columns=langs), mono


def run(
    name: str, full: pd.DataFrame, draws: int, bootstrap: int, mono: pd.Series | None = None
) -> pd.DataFrame:
    n = len(full)
    fractions = [f for f in FRACTIONS if per_language(n, f) >= 2]
    if not fractions:
        return pd.DataFrame()
    covariates = pair_covariates(list(full.index), mono)
    ours = Settings(draws=bootstrap)
    runs = [("ours", ours, covariates, None), ("additive", ours.additive, None, None)]
    if per_language(n, ADAPTIVE_FROM) >= 2:
        runs.append(("ours, adaptive", ours, covariates, ADAPTIVE_FROM))
    tables = {}
    for method, settings, cov, start in runs:
        table = backtest(full, fractions, draws, settings, cov, adaptive_from=start)
        if start is not None:
            table = table[table["fraction"] > start]
        tables[method] = summarise(table)
    table = pd.concat(tables, names=["method"])
    return pd.concat({name: table}, names=["matrix"])


REALISTIC_METHODS = (
    "ours + proxy",
    "ours + raw proxy",
    "ours, no proxy",
    "additive",
    "adaptive + proxy",
    "oracle + proxy",
    "oracle, no proxy",
)
K_AT_SCALE = 8  # pairs per language from 50 languages on
REALISTIC_FRACTIONS = (0.2, 0.3, 0.5)  # at 22 languages, as the study's size


def realistic(args: argparse.Namespace) -> None:
    """The goal table on worlds with the real matrix's structure, 22 to 300 languages."""
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        fractions = args.fractions if n <= 22 else (K_AT_SCALE / (n - 1),)
        for seed in range(args.worlds):
            world = simulate(n, seed, proxy_r2=(args.proxy_r2,))
            langs = list(world.truth.index)
            agree = agreement(world.measured, world.twin)
            rows.append({"languages": n, "plan": "two full runs", **agree, "world": seed})
            with_proxy = pair_covariates(langs, world.mono, typology=False, proxies=world.proxies)
            raw = {k: v for k, v in with_proxy.items() if not k.endswith(STRUCTURE)}
            plain = pair_covariates(langs, world.mono, typology=False)
            settings = Settings(draws=args.bootstrap)
            methods = {
                "ours + proxy": (settings, with_proxy, None),
                "ours + raw proxy": (settings, raw, None),
                "ours, no proxy": (settings, plain, None),
                "additive": (settings.additive, None, None),
                "adaptive + proxy": (settings, with_proxy, fractions[0] / 2),
            }
            assert tuple(methods) == REALISTIC_METHODS[:-2]
            rows += _oracle_rows(world, n, fractions, args, seed)
            for method, (chosen, cov, start) in methods.items():
                if args.methods and method not in args.methods:
                    continue
                table = backtest(
                    world.measured,
                    fractions,
                    args.draws,
                    chosen,
                    cov,
                    adaptive_from=start,
                    round_size=max(8, n // 2),
                )
                for _, row in table.iterrows():
                    plan = _plan_name(n, row["fraction"])
                    rows.append(
                        {"languages": n, "plan": plan, "method": method, "world": seed}
                        | {m: row[m] for m in ("spearman_d", "spearman_r")}
                    )
            print(f"realistic worlds: {n} languages, world {seed} done", flush=True)
    _goal_table(pd.DataFrame(rows), args.proxy_r2)


def _oracle_rows(
    world: World, n: int, fractions: tuple[float, ...], args: argparse.Namespace, seed: int
) -> list[dict]:
    """The oracle (``graph.simulate.oracle``) on the designs every other method sees: with
    the world's proxy and without it."""
    rows = []
    for method, proxies in (("oracle + proxy", True), ("oracle, no proxy", False)):
        if args.methods and method not in args.methods:
            continue
        for fraction in fractions:
            for k in range(args.draws):  # backtest's designs: seeds 0 … draws − 1
                seen = hide(world.measured, fraction, seed=k)
                agree = agreement(world.measured, oracle(world, seen, proxies=proxies))
                plan = _plan_name(n, fraction)
                rows.append({"languages": n, "plan": plan, "method": method, "world": seed} | agree)
    return rows


FIGURE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def figure(args: argparse.Namespace) -> None:
    """The backtest figure of the docs: each metric against the fraction of pairs, on
    realistic 22-language worlds, our estimate with and without the proxy and the
    additive model (mean and worst over worlds and designs)."""
    from bloodbank.graph.backtest import figure as draw

    methods: dict[str, list[pd.DataFrame]] = {}
    for seed in range(args.worlds):
        world = simulate(22, seed, proxy_r2=(args.proxy_r2,))
        langs = list(world.truth.index)
        with_proxy = pair_covariates(langs, world.mono, typology=False, proxies=world.proxies)
        plain = pair_covariates(langs, world.mono, typology=False)
        settings = Settings(draws=args.bootstrap)
        for name, chosen, cov in (
            ("ours + proxy", settings, with_proxy),
            ("ours, no proxy", settings, plain),
            ("additive", settings.additive, None),
        ):
            table = backtest(world.measured, FIGURE_FRACTIONS, args.draws, chosen, cov)
            methods.setdefault(name, []).append(table)
    fig = draw({name: summarise(pd.concat(tables)) for name, tables in methods.items()})
    fig.savefig(args.figure, dpi=110)
    print(f"{args.figure}: the backtest against the fraction of pairs")


def _plan_name(n: int, fraction: float) -> str:
    return f"{fraction:.0%} of pairs" if n <= 22 else f"k = {K_AT_SCALE} per language"


def _goal_table(rows: pd.DataFrame, proxy_r2: float) -> None:
    runs = rows[rows["plan"] == "two full runs"].groupby("languages")
    agree = runs[["spearman_d", "spearman_r"]].mean()
    table = (
        rows[rows["plan"] != "two full runs"]
        .groupby(["languages", "plan", "method"], sort=False)[["spearman_d", "spearman_r"]]
        .agg(["mean", "min"])
    )
    pd.set_option("display.width", 200)
    print(f"\nrealistic worlds (proxy R² of the pair-specific part {proxy_r2}): Spearman against")
    print("the full graph, mean and worst over worlds and designs")
    print(table.round(3).to_string())
    print("\nagreement of two full runs of the same world (seed noise only), mean:")
    print(agree.round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--suite", choices=("study", "realistic", "both"), default="both")
    parser.add_argument("--worlds", type=int, default=3, help="simulated worlds per kind")
    parser.add_argument("--draws", type=int, default=10, help="designs per fraction")
    parser.add_argument("--bootstrap", type=int, default=200, help="draws per estimate")
    parser.add_argument(
        "--sizes", default="22,50,100,300", help="realistic suite: languages per world"
    )
    parser.add_argument(
        "--fractions",
        type=lambda text: tuple(float(x) for x in text.split(",")),
        default=REALISTIC_FRACTIONS,
        help="realistic suite: fractions of the pairs trained up to 22 languages "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--proxy-r2",
        type=float,
        default=PROXY_R2,
        help="realistic suite: share of the noise-free pair-specific part the proxy "
        "predicts (default: %(default)s, as bench_proxies measured it)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=REALISTIC_METHODS,
        default=[],
        metavar="METHOD",
        help="realistic suite: only these methods, each quoted (default: all of "
        + ", ".join(repr(m) for m in REALISTIC_METHODS)
        + ")",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        help="only draw the docs' backtest figure (realistic 22-language worlds) to FIGURE",
    )
    parser.add_argument(
        "--repo",
        type=Path,
        nargs="*",
        default=[],
        help="other project folders whose full graph to backtest (metrics/ after dvc repro)",
    )
    args = parser.parse_args()
    if args.figure:
        figure(args)
        return
    if args.suite in ("study", "both"):
        study(args)
    if args.suite in ("realistic", "both"):
        realistic(args)


def study(args: argparse.Namespace) -> None:
    """Simulated 22-language worlds at Table 5's scales, Table 5, and pipeline graphs."""
    parts = []
    for rho, label in ((RHO, ""), ((0.0, 0.0), ", mono carries nothing")):
        for rank in (1, 2):
            for seed in range(args.worlds):
                name = f"simulated rank {rank} #{seed}{label}"
                full, mono = simulated(seed, rank, rho)
                parts.append(run(name, full, args.draws, args.bootstrap, mono))
    t5_mono = pd.Series(np.diag(TABLE5), index=T5_LANGS)
    parts.append(run("Table 5 (6 languages)", table5(), args.draws, args.bootstrap, t5_mono))
    for name, folder in (("embedded default", ROOT), *((p.name, p) for p in args.repo)):
        scores = folder / "metrics" / "scores.json"
        if not scores.is_file():
            continue
        full = read_matrix(folder / "metrics" / "finetune_scores.csv", kind="percent").frame()
        if full.isna().to_numpy()[~np.eye(len(full), dtype=bool)].any():
            print(f"{folder}: not every pair measured; left out")
            continue
        mono = pd.Series(read_mono_mrr(scores))
        label = f"{name} ({len(full)})"
        parts.append(run(label, full, args.draws, args.bootstrap, mono))
    results = pd.concat([p for p in parts if not p.empty])
    pd.set_option("display.width", 200)
    print(results.round(3).to_string())
    for label, test in (
        ("mono informative", lambda name: "carries nothing" not in name),
        ("mono carries nothing", lambda name: "carries nothing" in name),
    ):
        sims = results.loc[[i for i in results.index if i[0].startswith("sim") and test(i[0])]]
        pooled = sims.groupby(level=["method", "fraction"]).agg(
            {
                **{("mean", m): "mean" for m in sims["mean"].columns},
                **{("worst", m): WORST[m] for m in sims["worst"].columns},
            }
        )
        print(f"\nsimulated worlds, {label}, pooled (mean of means; worst of worsts):")
        print(pooled.round(3).to_string())


if __name__ == "__main__":
    main()
