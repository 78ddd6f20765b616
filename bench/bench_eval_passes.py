"""How much of F's seed-to-seed noise is the evaluation's, and what `eval.passes` buys.

F(s→t) compares two models on t's test set masked at 15%. Both are scored on the same
masks (`eval.mask_seed`), but they get different masked tokens right, so one mask draw
leaves a sampling error in F that does not cancel. This benchmark trains, per seed, the
mono model of a target t and of every source s, then every pair s→t (the diagonal t→t
included), exactly as the mono and pair stages do, and scores each model under
`--draws` independent mask draws (the passes of `eval.passes`). It prints:

- the evaluation's share: the standard deviation of F(s→t) across single draws, for a
  fixed trained model pair (mean over seeds and sources);
- the training's share: what remains of the seed-to-seed standard deviation once F is
  averaged over all draws;
- for passes = 1, 2, 4, 8: the seed-to-seed standard deviation of F per cell these two
  predict, and the evaluation seconds per model (measured, this machine).

The same trained models are also scored under `--partitions` passes of
`eval.masking: partition` (every token scored once per pass, in ceil(1/0.15) = 7 masks),
and the same figures printed for it, so the two maskings are compared on one set of
models, in one run, by their noise at equal evaluation seconds.

Reads the token arrays and tokenizer of this repository (`dvc repro tokenize` first).

    python bench/bench_eval_passes.py                      # target qaa, the default recipe
    python bench/bench_eval_passes.py --target qac --seeds 4 --draws 8 --partitions 3
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
import torch
from inprocess import fit, fresh_model

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import load_tokenizer
from bloodbank.mlm.evaluation import evaluate
from bloodbank.mlm.runs import Recipe, masked_test


def per_draw_mrr(model, test: TokenizedSplit, lang: str, params, tok, draws: int) -> np.ndarray:
    """MRR of ``model`` under each of ``draws`` passes of ``params.eval.masking``, one by one."""
    recipe = Recipe(params.train, params.eval, 0)
    batches = list(masked_test(test, lang, recipe, tok, passes=draws))
    per_pass = len(batches) // draws  # the passes come one after the other, equally long
    return np.array(
        [
            evaluate(
                model,
                batches[p * per_pass : (p + 1) * per_pass],
                len(test),
                device=torch.device("cpu"),
                bootstrap=0,
                seed=0,
            ).mrr
            for p in range(draws)
        ]
    )


def f_per_draw(target: str, sources: list[str], seed: int, params, tok, draws: dict[str, int]):
    """Per masking: F(s→t) in percent under each pass, rows sources, columns passes; and
    the evaluation seconds of one pass of one model."""
    test = load_split(paths.tokens(target), "test")
    train = load_split(paths.tokens(target), "train")
    models = {
        lang: fit(
            fresh_model(params.model, tok, lang, seed),
            load_split(paths.tokens(lang), "train"),
            params.train,
            tok,
            seed,
            f"mono:{lang}",
        )
        for lang in dict.fromkeys([target, *sources])
    }
    pairs = {
        src: fit(copy.deepcopy(models[src]), train, params.train, tok, seed, f"pair:{src}-{target}")
        for src in dict.fromkeys([target, *sources])
    }
    out = {}
    for masking, n in draws.items():
        scored = params.model_copy(
            update={"eval": params.eval.model_copy(update={"masking": masking})}
        )
        t0 = time.perf_counter()
        base = per_draw_mrr(models[target], test, target, scored, tok, n)
        seconds = (time.perf_counter() - t0) / n
        rows = {
            src: 100.0 * (per_draw_mrr(pair, test, target, scored, tok, n) - base) / base
            for src, pair in pairs.items()
        }
        out[masking] = (pd.DataFrame(rows).T, seconds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", default=None, help="default: the first studied language")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1")
    ap.add_argument("--draws", type=int, default=8, help="random mask draws per model")
    ap.add_argument(
        "--partitions", type=int, default=3, help="partition passes per model (0: none)"
    )
    args = ap.parse_args()
    params = load_params()
    tok = load_tokenizer(paths.TOKENIZER)
    target = args.target or params.studied[0]
    sources = [s for s in params.studied if s != target]
    draws = {"random": args.draws, "partition": args.partitions}
    draws = {k: v for k, v in draws.items() if v > 0}
    runs = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        runs.append(f_per_draw(target, sources, seed, params, tok, draws))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    for masking, n in draws.items():
        frames = [run[masking][0] for run in runs]
        seconds = float(np.mean([run[masking][1] for run in runs]))
        print(f"\n== eval.masking: {masking}")
        report(frames, target, n, seconds)


def report(frames: list[pd.DataFrame], target: str, draws: int, eval_seconds: float) -> None:
    """Print F per seed and source, the two shares of its noise, and passes' predictions."""
    means = pd.DataFrame({i: f.mean(axis=1) for i, f in enumerate(frames)})
    means.columns = [f"seed {i}" for i in means.columns]
    table = means.assign(
        **{
            "sd, seeds": means.std(axis=1, ddof=1),
            "sd, one draw": np.sqrt(np.mean([f.var(axis=1, ddof=1) for f in frames], axis=0)),
        }
    )
    print(f"F(s→{target}), percent, averaged over {draws} passes; standard deviations:")
    print(table.round(1).to_string())
    eval_sd = float(np.sqrt(np.mean([f.var(axis=1, ddof=1).mean() for f in frames])))
    total_sd = float(np.sqrt(means.var(axis=1, ddof=1).mean()))
    train_sd = float(np.sqrt(max(total_sd**2 - eval_sd**2 / draws, 0.0)))
    print(f"\nsd of F across single passes (evaluation): {eval_sd:.2f} points")
    print(f"sd of F across seeds, {draws} passes averaged: {total_sd:.2f} points")
    print(f"  of which training: {train_sd:.2f} points")
    print("\npasses  predicted sd of F across seeds  eval seconds per model")
    for k in (1, 2, 4, 8):
        print(f"{k:>6}  {np.sqrt(train_sd**2 + eval_sd**2 / k):>31.2f}  {k * eval_seconds:>21.2f}")


if __name__ == "__main__":
    main()
