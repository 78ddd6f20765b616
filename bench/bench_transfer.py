"""The whole F matrix under a candidate recipe, in one process: a quick way to try recipes.

`bench_planted.py` answers issue 16's questions through the pipeline itself (a clone,
`dvc exp run`), which is authoritative but slow to iterate on, and can only shrink a
language's data by sampling and tokenizing a new world. This benchmark trains the
studied languages' mono models and every pair (diagonal included) in this process,
with the stages' initialisation and training keys, so under the repository's own
params it computes the pipeline's numbers; it checks that against metrics/mrr.csv when
that file is there and the recipe is unchanged. Then it prints, per seed, the F
matrix, and the same figures and goals as bench_planted (through its report).

Recipe changes, none of which touch params.yaml:
  --sentences N   train on the first N sentences of each training split (a
                  data-limited regime without resampling; the test sets are unchanged)
  --epochs, --lr, --hidden (intermediate = 4x), --layers, --dropout, --passes
  --pair-epochs, --pair-lr   the pair trainings' own epochs and learning rate
                  (pair_recipe.epochs and pair_recipe.lr; default: the mono recipe's)
  --replicates R  R trainings per run with the stages' replicate seeds, MRRs averaged
                  (what `replicates: R` in params.yaml computes)

With `--cache DIR`, each training seed's MRRs are kept in DIR under a key of the recipe,
the languages and the bytes of the tokenizer and token arrays, so seeds or replicates
already trained are not trained again (a 3-replicate run of seed 0 reuses a plain one),
and the mono models are kept under DIR/mono, so recipes that differ in the pair
trainings only train them once.
With R > 1 the run ends with the goals' figures under 1, 2, ... R replicates: the first r
replicate seeds are what `replicates: r` trains, so that curve costs nothing more. Last,
every training of every seed pooled: the graph many replicates would converge to, and
the donation and recipience of each language as mean ± standard error over trainings,
which says whether a top donor or recipient exists to be found at all. With `--power`, a
power analysis from those trainings: how likely 3 seeds of 1, 2, 3, 5, 10 or 20
replicates each are to meet the goals, and what that training costs at this run's pace.

Reads the token arrays, tokenizer and planted truth of the repository it runs in
(`dvc repro tokenize truth` first); run it from a clone configured with `lbb config
--use NAME` for another world. Figures are quality, not time.

    python bench/bench_transfer.py --seeds 0                    # = the pipeline's seed 0
    python bench/bench_transfer.py --sentences 600 --epochs 20 --seeds 0,1,2
    python bench/bench_transfer.py --epochs 8 --replicates 3 --cache /tmp/bt
    python bench/bench_transfer.py --epochs 8 --cache /tmp/bt --power
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bench_planted import GOAL_SEEDS, GOAL_TRUTH, goals, off_diagonal, report, type_figures
from inprocess import changed_params, fit, fresh_model
from scipy.stats import spearmanr
from tqdm import tqdm

from bloodbank.core import paths
from bloodbank.core.config import Params, load_params
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import load_tokenizer
from bloodbank.graph.analysis import donation, ranking, recipience
from bloodbank.graph.finetune_scores import finetune_scores, matched_baseline
from bloodbank.graph.planted import cells, compare, lexical_slope, read_truth
from bloodbank.mlm.runs import Recipe, mrr_on, replicate_seeds


def first_sentences(split: TokenizedSplit, n: int | None) -> TokenizedSplit:
    """The first ``n`` sentences of ``split`` (all of them when ``n`` is None)."""
    if n is None or n >= len(split):
        return split
    offsets = split.offsets[: n + 1]
    return TokenizedSplit(split.ids[: offsets[-1]], offsets)


def data_hash(h, langs: list[str]) -> None:
    """Feed the bytes of the tokenizer and of ``langs``' token arrays to ``h``."""
    files = sorted(paths.TOKENIZER.iterdir()) + [
        f for t in langs for f in sorted(paths.tokens(t).iterdir())
    ]
    for f in files:
        h.update(f.name.encode() + f.read_bytes())


def mono_model(
    params: Params, tok, split, lang: str, seed: int, sentences: int | None, cache: Path | None
):
    """The mono model of ``lang``, trained, or loaded from ``cache`` where it was kept.
    Its key leaves out the pair recipe, so recipes that change only the pair trainings
    train the mono models once."""
    file = None
    if cache is not None:
        h = hashlib.sha256()
        recipe = [params.model.model_dump(), params.train.model_dump()]
        h.update(json.dumps([recipe, lang, seed, sentences], sort_keys=True).encode())
        data_hash(h, [lang])
        file = cache / "mono" / f"{h.hexdigest()[:16]}.pt"
    model = fresh_model(params.model, tok, lang, seed)
    if file is not None and file.is_file():
        model.load_state_dict(torch.load(file, weights_only=True))
        return model
    fit(model, split, params.train, tok, seed, f"mono:{lang}")
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(file)
    return model


def pair_mrr(
    params: Params,
    langs: list[str],
    seed: int,
    sentences: int | None,
    cache: Path | None = None,
):
    """MRR of every mono model and of every pair s→t on t's test set, one training seed."""
    tok = load_tokenizer(paths.TOKENIZER)
    train = {t: first_sentences(load_split(paths.tokens(t), "train"), sentences) for t in langs}
    test = {t: load_split(paths.tokens(t), "test") for t in langs}
    recipe = Recipe(params.train, params.eval, seed)
    mono, mono_mrr = {}, {}
    bar = tqdm(total=len(langs) * (len(langs) + 1), desc=f"seed {seed}", leave=False)
    for t in langs:
        mono[t] = mono_model(params, tok, train[t], t, seed, sentences, cache)
        mono_mrr[t] = mrr_on(mono[t], test[t], t, recipe, tok).mrr
        bar.update()
    pairs = pd.DataFrame(index=pd.Index(langs, name="source"), columns=langs, dtype=float)
    recipe_st = params.pair_recipe.apply(params.train)
    for s in langs:
        for t in langs:
            model = fit(copy.deepcopy(mono[s]), train[t], recipe_st, tok, seed, f"pair:{s}-{t}")
            pairs.loc[s, t] = mrr_on(model, test[t], t, recipe, tok).mrr
            bar.update()
    bar.close()
    return pd.Series(mono_mrr), pairs


def cache_key(params: Params, langs: list[str], seed: int, sentences: int | None) -> str:
    """What decides one training seed's MRRs: the recipe, the languages and the bytes of
    the tokenizer and token arrays (so a resampled world never reads an old entry)."""
    h = hashlib.sha256()
    recipe = {k: getattr(params, k).model_dump() for k in ("model", "train", "pair_recipe", "eval")}
    h.update(json.dumps([recipe, langs, seed, sentences], sort_keys=True).encode())
    data_hash(h, langs)
    return h.hexdigest()[:16]


def cached_pair_mrr(params, langs, seed, sentences, cache: Path | None):
    """``pair_mrr``, read from or written to ``cache`` when one is given."""
    if cache is None:
        return pair_mrr(params, langs, seed, sentences)
    file = cache / f"{cache_key(params, langs, seed, sentences)}.csv"
    if file.is_file():
        frame = pd.read_csv(file, index_col=0)
        return frame.pop("mono"), frame
    mono, pairs = pair_mrr(params, langs, seed, sentences, cache)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    pairs.assign(mono=mono).to_csv(tmp)
    tmp.replace(file)
    return mono, pairs


def replicate_runs(params, langs, seed, replicates, sentences, cache):
    """(mono, pairs) MRRs of each replicate's training seed, in the stages' order."""
    return [
        cached_pair_mrr(params, langs, s, sentences, cache)
        for s in replicate_seeds(seed, replicates)
    ]


def mean_mrr(runs: list[tuple[pd.Series, pd.DataFrame]]) -> tuple[pd.Series, pd.DataFrame]:
    """The replicates' mean MRRs, as the stages score a replicated run."""
    return sum(m for m, _ in runs) / len(runs), sum(p for _, p in runs) / len(runs)


def seed_figures(mono: pd.Series, pairs: pd.DataFrame, truth: pd.DataFrame, baseline: str):
    """What bench_planted reads from the graph stage, computed from the MRRs."""
    f = finetune_scores(pairs, mono)
    f_matched = finetune_scores(pairs, matched_baseline(pairs))
    langs = list(f.index)
    analysed = {"f": f, "f_matched": f_matched}[baseline_key(baseline)]
    table = cells(truth.loc[langs, langs], {"mono": f, "matched": f_matched})
    planted = compare(table, ["mono", "matched"])
    return {
        "f": f,
        "f_matched": f_matched,
        "diagonal": pd.Series(np.diag(f.to_numpy()), index=langs),
        "truth_rho": planted["matched"]["spearman"],
        "truth_rho_mono": planted["mono"]["spearman"],
        "donor": ranking(langs, donation(analysed.to_numpy()))[0],
        "recipient": ranking(langs, recipience(analysed.to_numpy()))[0],
        "hypotheses": {},
        **type_figures(truth.loc[langs, langs], f),
    }


def by_replicates(per_seed: dict[int, list], truth: pd.DataFrame, baseline: str) -> None:
    """The goals' figures under `replicates: r` for every r up to the replicates trained:
    the first r replicate seeds are what the stages would train, so no training is added."""
    print(
        "\nreplicates | min ρ between seeds, F / F matched | ρ(F matched, truth) per seed "
        "| top donors | top recipients"
    )
    for r in range(1, min(len(v) for v in per_seed.values()) + 1):
        runs = [seed_figures(*mean_mrr(v[:r]), truth, baseline) for v in per_seed.values()]
        between = [
            [spearmanr(off_diagonal(a[k]), off_diagonal(b[k]))[0] for k in ("f", "f_matched")]
            for a, b in itertools.combinations(runs, 2)
        ]
        seeds = " / ".join(f"{min(x):.3f}" for x in zip(*between, strict=True)) if between else "-"
        print(
            f"{r:>10} | {seeds:>33} | "
            + " ".join(f"{x['truth_rho']:.3f}" for x in runs).rjust(27)
            + f" | {' '.join(x['donor'] for x in runs)} | {' '.join(x['recipient'] for x in runs)}"
        )


def pooled(per_seed: dict[int, list], truth: pd.DataFrame, baseline: str) -> None:
    """Every training of every seed pooled: the graph as many replicates would give it, and
    whether its top donor and recipient are settled at all (mean ± standard error of D and
    R over the trainings; a gap below the errors leaves the top to each seed's noise)."""
    runs = [run for v in per_seed.values() for run in v]
    fig = seed_figures(*mean_mrr(runs), truth, baseline)
    print(
        f"\npooled over {len(runs)} trainings: ρ(F matched, truth) {fig['truth_rho']:.3f}, "
        f"ρ(F, truth) {fig['truth_rho_mono']:.3f}"
    )
    if len(runs) < 2:
        return
    scores = [
        seed_figures(mono, pairs, truth, baseline)[baseline_key(baseline)] for mono, pairs in runs
    ]
    for name, measure in (("donation", donation), ("recipience", recipience)):
        values = pd.DataFrame([measure(f.to_numpy()) for f in scores], columns=scores[0].columns)
        mean, se = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
        order = mean.sort_values(ascending=False).index
        print(
            f"{name} per training, mean ± se: "
            + ", ".join(f"{lang} {mean[lang]:.1f} ± {se[lang]:.1f}" for lang in order)
        )


def simulated_goals(
    runs: list[tuple[pd.Series, pd.DataFrame]],
    truth: pd.DataFrame,
    baseline: str,
    replicates: int,
    seeds: int = 3,
    draws: int = 200,
    rng_seed: int = 0,
) -> dict[str, float]:
    """How often ``seeds`` seeds of ``replicates`` trainings each would meet the goals.

    A power analysis from the trainings at hand: each MRR (every mono model and every
    pair) is drawn from a normal distribution with its mean and standard deviation over
    ``runs``, independently, and a seed averages ``replicates`` draws, as the stages
    average replicates. F is then computed from the drawn MRRs, so the noise of a mono
    model moves its whole column as it does in the pipeline. What it leaves out: the
    correlation between a pair and its source's mono model, and the error in the means
    and deviations themselves, which only a few trainings estimate (read the answer as
    an order of magnitude of the compute the goals need, not a forecast).
    """
    if len(runs) < 2:
        raise ValueError("a power analysis needs at least two trainings per cell")
    mono = pd.concat([m for m, _ in runs], axis=1)
    pairs = np.stack([p.to_numpy(dtype=float) for _, p in runs])
    rng = np.random.default_rng(rng_seed)
    scale = 1 / np.sqrt(replicates)
    mono_mean, mono_sd = mono.mean(axis=1), mono.std(axis=1) * scale
    pair_mean, pair_sd = pairs.mean(axis=0), pairs.std(axis=0, ddof=1) * scale
    frame = runs[0][1]
    names = {
        "seed_spearman": "seeds",
        "same_top": "top",
        "truth_spearman": "truth",
        "types": "types",
    }
    hits = {"seeds": 0, "top": 0, "truth": 0, "types": 0, "all": 0}
    for _ in range(draws):
        figures = []
        for _ in range(seeds):
            m = mono_mean + rng.normal(size=len(mono)) * mono_sd
            noise = rng.normal(size=pairs.shape[1:]) * pair_sd
            p = pd.DataFrame(pair_mean + noise, index=frame.index, columns=frame.columns)
            figures.append(seed_figures(m, p, truth, baseline))
        met = goals(figures)
        for key, ok in met.items():
            hits[names[key]] += ok
        hits["all"] += all(met.values())
    return {key: n / draws for key, n in hits.items()}


def power(
    per_seed: dict[int, list], truth: pd.DataFrame, baseline: str, seconds: float | None
) -> None:
    """The goals' chances under more replicates, and what that training would cost here.

    ``seconds`` is one training of every cell at this run's pace (None when every seed
    came from the cache, so nothing was timed)."""
    runs = [run for v in per_seed.values() for run in v]
    n = len(runs[0][0])
    print(
        f"\nsimulated from the {len(runs)} trainings per cell above (200 draws of 3 seeds; "
        "independent normal noise per MRR, see simulated_goals):"
    )
    print(
        f"replicates | P(seeds ρ >= {GOAL_SEEDS}) | P(same top) | "
        f"P(truth ρ >= {GOAL_TRUTH}) | P(all) | hours"
    )
    for r in (1, 2, 3, 5, 10, 20):
        p = simulated_goals(runs, truth, baseline, r)
        hours = f"{3 * r * seconds / 3600:5.1f}" if seconds else "    -"
        print(
            f"{r:>10} | {p['seeds']:17.2f} | {p['top']:11.2f} | {p['truth']:17.2f} | "
            f"{p['all']:6.2f} | {hours}"
        )
    pace = f"{seconds:.0f} s, as timed above" if seconds else "not timed: all from the cache"
    print(f"(hours: 3 seeds x replicates x one training of all {n * (n + 1)} runs: {pace})")


def baseline_key(baseline: str) -> str:
    """seed_figures' key of the F the graph analyses (params' graph.baseline)."""
    return "f" if baseline == "mono" else "f_matched"


def check_against_pipeline(pairs: pd.DataFrame) -> None:
    """Under the repository's own recipe and seed, the pairs' MRR must be the pipeline's."""
    if not paths.MRR_MATRIX.is_file():
        return
    committed = pd.read_csv(paths.MRR_MATRIX, index_col=0)
    if list(committed.index) != list(pairs.index):
        return
    # the pipeline trains no diagonal under `pairs.matched_diagonal: false`: compare the
    # cells it has
    gap = float(np.nanmax((committed - pairs.round(5)).abs().to_numpy()))
    verdict = "the same" if gap < 1e-5 else "DIFFERENT (stale metrics? rerun dvc repro)"
    print(f"pair MRRs against the pipeline's {paths.MRR_MATRIX}: {verdict} (max |Δ| {gap:.1e})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    ap.add_argument("--sentences", type=int, help="first N training sentences per language")
    ap.add_argument("--epochs", type=float)
    ap.add_argument(
        "--pair-epochs",
        type=float,
        help="epochs of each pair training on its target (default: --epochs, as the stages)",
    )
    ap.add_argument("--pair-lr", type=float, help="learning rate of each pair training")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--hidden", type=int, help="hidden size (intermediate = 4x)")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--passes", type=int, help="test mask draws (eval.passes)")
    ap.add_argument("--replicates", type=int, help="trainings per run (params' replicates)")
    ap.add_argument("--cache", type=Path, help="keep each training seed's MRRs here")
    ap.add_argument(
        "--power",
        action="store_true",
        help="simulate the goals under 1..20 replicates from the trainings run, priced in "
        "hours at this run's pace (a power analysis; see simulated_goals)",
    )
    args = ap.parse_args()
    params = load_params()
    truth = read_truth(paths.TRUTH)
    if truth is None:
        raise SystemExit(f"{paths.TRUTH}: no planted truth here (run `dvc repro truth`)")
    changed = changed_params(
        params,
        args.epochs,
        args.lr,
        args.hidden,
        args.layers,
        args.dropout,
        args.passes,
        pair_epochs=args.pair_epochs,
        pair_lr=args.pair_lr,
    )
    pair = changed.pair_recipe.apply(changed.train)
    langs = list(params.studied)
    replicates = args.replicates or params.replicates
    unchanged = changed == params and args.sentences is None and replicates == params.replicates
    print(
        f"{len(langs)} languages; hidden {changed.model.hidden_size}, {changed.model.num_layers} "
        f"layers, dropout {changed.model.dropout}, {changed.train.epochs} epochs, lr "
        f"{changed.train.lr}, passes {changed.eval.passes}, sentences {args.sentences or 'all'}, "
        f"replicates {replicates}; pair trainings: {pair.epochs} epochs, lr {pair.lr}"
    )
    runs, per_seed, paces = {}, {}, []
    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        per_seed[seed] = replicate_runs(
            changed, langs, seed, replicates, args.sentences, args.cache
        )
        mono, pairs = mean_mrr(per_seed[seed])
        if unchanged and seed == params.seed:
            check_against_pipeline(pairs)
        runs[seed] = seed_figures(mono, pairs, truth, params.graph.baseline)
        seconds = time.perf_counter() - t0
        if seconds > 5:  # a seed read from the cache takes no time worth a pace
            paces.append(seconds / replicates)
        print(f"\nseed {seed} ({seconds:.0f} s): mono MRR", mono.round(4).to_dict())
        print(runs[seed]["f"].round(1).to_string())
        slope = lexical_slope(truth, runs[seed]["f"])
        print(
            f"F per 10 points of shared words, within targets: {slope['per_10_points']:+.2f} "
            f"± {slope['stderr']:.2f} (residual sd {slope['residual_sd']:.2f} points)",
            flush=True,
        )
    print()
    report(runs)
    if replicates > 1:
        by_replicates(per_seed, truth, params.graph.baseline)
    pooled(per_seed, truth, params.graph.baseline)
    if args.power:
        power(per_seed, truth, params.graph.baseline, max(paces) if paces else None)


if __name__ == "__main__":
    main()
