"""Which ordered pairs (s, t) to train: all of them, a balanced seeded subset, or a list.

n languages need n(n−1) pair trainings for the full graph. What the study reads off the
graph (donation and recipience, their signs and rankings) can be estimated from a
subset (``graph.estimate``), and a subset estimates best when every language is measured
as often as a source as a target: a *balanced* design, in which each language is the
source of exactly k pairs and the target of exactly k pairs, no pair twice, no s = t.

A balanced design here is a union of k "shifts" of a seeded random order of the
languages: with the order π, shift σ holds the n pairs (π(i), π(i+σ mod n)). The n−1
shifts partition all ordered pairs, so k distinct shifts give each language exactly k
pairs as a source and k as a target. The shifts are taken in a seeded random order that
does not depend on k, so designs nest: raising the fraction adds pairs and keeps every
pair already planned (and trained). The first two shifts are chosen so that from k = 2
on the design connects all sources and targets, without which the additive part of the
estimate is not identified. The plan is a pure function of (languages, k, seed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from bloodbank.core.config import PairsConfig
from bloodbank.core.errors import BloodbankError

Pair = tuple[str, str]


class DesignError(BloodbankError, ValueError):
    """A design that cannot be built or names unknown languages."""


def all_pairs(langs: Sequence[str]) -> list[Pair]:
    """Every ordered pair s ≠ t, in the order of ``langs``."""
    return [(s, t) for s in langs for t in langs if s != t]


def per_language(n: int, fraction: float) -> int:
    """k for a balanced design holding ``fraction`` of the n(n−1) pairs (at least 1)."""
    if not 0 < fraction <= 1:
        raise DesignError(f"pairs.fraction must be in (0, 1], got {fraction}")
    return min(n - 1, max(1, math.floor(fraction * (n - 1) + 0.5)))  # half rounds up


def balanced(langs: Sequence[str], k: int, seed: int) -> list[Pair]:
    """A seeded design in which every language is k times a source and k times a target."""
    n = len(langs)
    if len(set(langs)) != n:
        raise DesignError(f"languages repeat: {list(langs)}")
    if not 1 <= k <= n - 1:
        raise DesignError(f"k must be between 1 and {n - 1} for {n} languages, got {k}")
    order, shifts = _layout(n, seed)
    cells = {(order[i], order[(i + s) % n]) for s in shifts[:k] for i in range(n)}
    ranked = sorted(cells, key=lambda c: (c[0], c[1]))
    return [(langs[i], langs[j]) for i, j in ranked]


def _layout(n: int, seed: int) -> tuple[list[int], list[int]]:
    """The seeded order of the languages and of the shifts 1..n−1; the second shift
    differs from the first by a number coprime with n, which connects the design."""
    rng = np.random.default_rng([seed, n])
    order = [int(x) for x in rng.permutation(n)]
    shifts = [int(x) for x in rng.permutation(np.arange(1, n))]
    if n > 2:
        j = next(j for j in range(1, n - 1) if math.gcd(shifts[0] - shifts[j], n) == 1)
        shifts.insert(1, shifts.pop(j))
    return order, shifts


def connected(cells: Iterable[tuple[int, int]], n: int) -> bool:
    """Whether the bipartite graph of sources and targets joined by ``cells`` is
    connected: then μ + d_s + r_t is identified up to the usual constant."""
    parent = list(range(2 * n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in cells:
        parent[find(i)] = find(n + j)
    return len({find(x) for x in range(2 * n)}) == 1


def plan_pairs(
    langs: Sequence[str],
    design: str | list[list[str]],
    fraction: float,
    seed: int,
    extra: Iterable[Sequence[str]] = (),
) -> list[Pair]:
    """The planned off-diagonal pairs: the design's, then ``extra`` ones not in it.

    ``design`` is ``"all"``, ``"balanced"`` (k from ``fraction``) or an explicit list of
    [source, target] pairs."""
    if design == "all":
        planned = all_pairs(langs)
    elif design == "balanced":
        planned = balanced(langs, per_language(len(langs), fraction), seed)
    elif isinstance(design, list):
        planned = [_checked(p, langs) for p in design]
    else:
        raise DesignError(f"pairs.design must be all, balanced or a list of pairs, got {design!r}")
    seen = set(planned)
    for pair in extra:
        pair = _checked(pair, langs)
        if pair not in seen:
            planned.append(pair)
            seen.add(pair)
    return planned


def _checked(pair: Sequence[str], langs: Sequence[str]) -> Pair:
    if len(pair) != 2:
        raise DesignError(f"a pair is [source, target], got {list(pair)}")
    s, t = pair
    unknown = [x for x in (s, t) if x not in langs]
    if unknown:
        raise DesignError(f"pair {s}-{t}: {', '.join(unknown)} not in studied")
    if s == t:
        raise DesignError(f"pair {s}-{t}: the diagonal is pairs.matched_diagonal's")
    return (s, t)


def by_source(pairs: Iterable[Pair], langs: Sequence[str], diagonal: bool) -> dict[str, list[str]]:
    """Each language's planned targets, in the order of ``langs``: the pair stage of s
    trains s's list. The diagonal (t on t, the compute-matched baseline) is included
    when ``diagonal``. Every language has an entry, an empty list if it sources none."""
    cells = set(pairs) | ({(t, t) for t in langs} if diagonal else set())
    return {s: [t for t in langs if (s, t) in cells] for s in langs}


def coverage(n: int, pairs: int) -> float:
    """The share of the n(n−1) off-diagonal pairs that ``pairs`` pairs make."""
    return pairs / (n * (n - 1)) if n > 1 else math.nan


def off_diagonal(targets: dict[str, list[str]]) -> int:
    """How many pairs a plan by source holds, the diagonal left out."""
    return sum(t != s for s, ts in targets.items() for t in ts)


def planned_pairs(studied: Sequence[str], cfg: PairsConfig) -> list[Pair]:
    """The off-diagonal pairs params.yaml plans (design, then extra)."""
    return plan_pairs(studied, cfg.design, cfg.fraction, cfg.seed, cfg.extra)


def plan(studied: Sequence[str], cfg: PairsConfig) -> dict[str, list[str]]:
    """What the pair stages train, from params.yaml alone: source -> its targets, the
    diagonal included when ``pairs.matched_diagonal``. The plan stage writes one file
    per source from this, so a changed plan reruns only the sources whose list changed."""
    return by_source(planned_pairs(studied, cfg), studied, cfg.matched_diagonal)
