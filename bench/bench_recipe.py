"""Held-out learning curves: has a recipe's monolingual model converged on its data?

Trains the mono model of each language with the recipe in params.yaml (or with
--epochs/--lr/--hidden/--dropout changed), scoring held-out MRR at --points evenly
spaced steps through the trainer's probe (the probe never changes training). Then,
as the pair stage does for the diagonal, trains that model on its own language again
with the same recipe: F(t→t), the compute-matched baseline, which is near 0 only
when the first run had converged. Reads the token arrays and tokenizer of this
repository (run `dvc repro tokenize` first).

    python bench/bench_recipe.py --langs qaa,qac                 # the default recipe
    python bench/bench_recipe.py --langs qaa --epochs 40 --points 20

The figures are quality (MRR), not time; seconds are printed for budgeting only and
vary with the machine.
"""

from __future__ import annotations

import argparse
import copy
import time

from inprocess import changed_params, fit, fresh_model

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.data.token_ids import load_split
from bloodbank.data.tokenizer import load_tokenizer
from bloodbank.mlm.runs import Recipe, mrr_on
from bloodbank.mlm.trainer import total_steps


def curve(model, lang: str, recipe: Recipe, tok, points: int, key: str) -> tuple[list, float]:
    """Train ``model`` on ``lang`` with ``recipe``; held-out MRR at ``points`` steps."""
    train, test = load_split(paths.tokens(lang), "train"), load_split(paths.tokens(lang), "test")
    steps = total_steps(len(train), recipe.train)
    at = frozenset(max(1, round(steps * i / points)) for i in range(1, points + 1))
    out: list[tuple[int, float]] = []

    def probe(step: int) -> None:
        out.append((step, mrr_on(model, test, lang, recipe, tok).mrr))

    t0 = time.perf_counter()
    fit(model, train, recipe.train, tok, recipe.seed, key, probe=(at, probe))
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--langs", help="comma-separated (default: the studied languages)")
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--hidden", type=int, help="hidden size (intermediate = 4x)")
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--points", type=int, default=8, help="held-out evaluations per run")
    args = ap.parse_args()
    params = load_params()
    changed = changed_params(
        params, epochs=args.epochs, lr=args.lr, hidden=args.hidden, dropout=args.dropout
    )
    train, model_cfg = changed.train, changed.model
    recipe = Recipe(train, params.eval, params.seed)
    tok = load_tokenizer(paths.TOKENIZER)
    langs = args.langs.split(",") if args.langs else list(params.studied)
    print(
        f"recipe: hidden {model_cfg.hidden_size}, {model_cfg.num_layers} layers, dropout "
        f"{model_cfg.dropout}, {train.epochs} epochs, lr {train.lr}, batch {train.batch_size}"
    )
    for lang in langs:
        model = fresh_model(model_cfg, tok, lang, params.seed)
        mono, secs = curve(model, lang, recipe, tok, args.points, f"mono:{lang}")
        again, _ = curve(
            copy.deepcopy(model), lang, recipe, tok, args.points, f"pair:{lang}-{lang}"
        )
        f_tt = 100 * (again[-1][1] - mono[-1][1]) / mono[-1][1]
        print(f"\n{lang}: mono {secs:.0f} s; F({lang}→{lang}) = {f_tt:+.1f}%")
        print("  step   mono MRR   step   again on itself")
        end = mono[-1][0]
        for (s1, m1), (s2, m2) in zip(mono, again, strict=True):
            print(f"  {s1:5d}   {m1:.4f}    {end + s2:5d}   {m2:.4f}")


if __name__ == "__main__":
    main()
