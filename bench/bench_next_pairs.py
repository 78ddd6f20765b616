"""How fast `lbb next-pairs` chooses pairs at hundreds of languages, against the direct
greedy it computes.

``next_pairs`` reads each unmeasured cell's gain through the bootstrap draws' Gram
matrix of the sums it weighs (draws × draws). The direct way multiplies the sums by
every cell in every choice (sums × cells, 600 × 90,000 at 300 languages). Both run here
on the same draws, one after the other, and must choose the same pairs in the same
order; the ratio of their times is the figure (a shared machine shifts both).

    python bench/bench_next_pairs.py                       # 300 languages, 30 choices
    python bench/bench_next_pairs.py --languages 100 --choices 50
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bloodbank.graph.estimate import next_pairs, sums, undecided


def direct(est, count: int) -> list[tuple[str, str, float]]:
    """The greedy of ``next_pairs`` (focus "types") computed directly: every choice
    multiplies the weighted sums by every unmeasured cell, then residualises."""
    n = len(est.langs)
    hidden = np.argwhere(~np.eye(n, dtype=bool) & ~est.measured.to_numpy())
    weighted = np.hstack(sums(est.draws)) * np.sqrt(undecided(*sums(est.draws)))
    z = np.hstack([est.draws[:, hidden[:, 0], hidden[:, 1]], weighted])
    z = z - z.mean(axis=0)
    m, chosen, free = len(hidden), [], np.ones(len(hidden), dtype=bool)
    for _ in range(count):
        zc, zq = z[:, :m], z[:, m:]
        norms = (zc * zc).sum(axis=0)
        gains = np.where(free, ((zq.T @ zc) ** 2).sum(axis=0) / norms, -1) / (len(z) - 1)
        best = int(np.argmax(gains))
        chosen.append((est.langs[hidden[best][0]], est.langs[hidden[best][1]], gains[best]))
        free[best] = False
        pivot = z[:, best].copy()
        z = z - np.outer(pivot, pivot @ z) / (pivot @ pivot)
    return chosen


def random_estimate(languages: int, draws: int, measured: float, seed: int = 0):
    """Bootstrap draws of a graph with ``measured`` of its pairs trained (all that
    ``next_pairs`` reads of an estimate)."""
    rng = np.random.default_rng(seed)
    langs = [f"l{i:03d}" for i in range(languages)]
    return SimpleNamespace(
        langs=langs,
        measured=pd.DataFrame(rng.random((languages, languages)) < measured),
        draws=rng.normal(0, 1, (draws, languages, languages)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", type=int, default=300)
    parser.add_argument("--choices", type=int, default=30)
    parser.add_argument("--draws", type=int, default=100, help="bootstrap draws")
    parser.add_argument("--measured", type=float, default=0.03, help="share of pairs trained")
    args = parser.parse_args()
    est = random_estimate(args.languages, args.draws, args.measured)
    seconds, picks = {}, {}
    for name, choose in (("direct", direct), ("next_pairs", next_pairs)):
        start = time.perf_counter()
        picks[name] = [c[:2] for c in choose(est, args.choices)]
        seconds[name] = time.perf_counter() - start
    same = "the same pairs" if picks["direct"] == picks["next_pairs"] else "DIFFERENT pairs"
    print(
        f"next-pairs: {args.languages} languages, {args.draws} draws, {args.choices} choices: "
        f"direct {seconds['direct']:.1f} s, next_pairs {seconds['next_pairs']:.1f} s, "
        f"{seconds['direct'] / seconds['next_pairs']:.1f}x; {same}"
    )


if __name__ == "__main__":
    main()
