"""Pair designs: balanced, seeded, nested as they grow; the plan by source."""

from __future__ import annotations

from collections import Counter

import pytest

from bloodbank.core.config import PairsConfig
from bloodbank.graph.design import (
    DesignError,
    all_pairs,
    balanced,
    by_source,
    connected,
    per_language,
    plan,
    plan_pairs,
)

LANGS = [f"q{a}{b}" for a in "ab" for b in "abcdefghijk"][:22]


@pytest.mark.parametrize(("n", "k"), [(4, 1), (5, 2), (10, 3), (22, 6), (22, 15), (7, 6)])
def test_each_language_is_k_times_source_and_k_times_target(n, k):
    langs = LANGS[:n]
    pairs = balanced(langs, k, seed=3)
    assert len(pairs) == len(set(pairs)) == n * k
    assert all(s != t for s, t in pairs)
    assert set(Counter(s for s, _ in pairs).values()) == {k}
    assert set(Counter(t for _, t in pairs).values()) == {k}
    index = {c: i for i, c in enumerate(langs)}
    cells = [(index[s], index[t]) for s, t in pairs]
    assert connected(cells, n) == (k >= 2)  # one shift alone never connects


def test_designs_are_seeded_deterministic_and_nested():
    assert balanced(LANGS, 6, seed=0) == balanced(LANGS, 6, seed=0)
    assert balanced(LANGS, 6, seed=0) != balanced(LANGS, 6, seed=1)
    small, large = set(balanced(LANGS, 4, seed=0)), set(balanced(LANGS, 9, seed=0))
    assert small < large  # raising the fraction keeps every pair already trained
    assert set(balanced(LANGS, 21, seed=0)) == set(all_pairs(LANGS))


def test_fraction_sets_k_and_bad_designs_are_refused():
    assert per_language(22, 0.3) == 6 and per_language(4, 0.01) == 1 and per_language(4, 1) == 3
    with pytest.raises(DesignError, match="between 1 and 3"):
        balanced(LANGS[:4], 4, seed=0)
    with pytest.raises(DesignError, match="qzz not in studied"):
        plan_pairs(LANGS[:3], [["qaa", "qzz"]], 0.3, 0)
    with pytest.raises(DesignError, match="diagonal"):
        plan_pairs(LANGS[:3], [["qaa", "qaa"]], 0.3, 0)


def test_extra_pairs_are_appended_once():
    langs = LANGS[:3]
    plan = plan_pairs(langs, [["qaa", "qab"]], 0.3, 0, extra=[["qab", "qaa"], ["qaa", "qab"]])
    assert plan == [("qaa", "qab"), ("qab", "qaa")]


def test_the_plan_lists_each_sources_targets_in_the_languages_order():
    targets = by_source([("qab", "qaa")], ["qaa", "qab"], diagonal=True)
    assert targets == {"qaa": ["qaa"], "qab": ["qaa", "qab"]}
    assert by_source([("qab", "qaa")], ["qaa", "qab"], diagonal=False) == {
        "qaa": [],
        "qab": ["qaa"],
    }


def test_the_plan_follows_params_alone():
    cfg = PairsConfig(design="balanced", fraction=0.5, seed=1, matched_diagonal=True)
    targets = plan(LANGS[:6], cfg)
    assert list(targets) == LANGS[:6]
    assert all(len(t) == 3 + 1 and s in t for s, t in targets.items())  # k = 2.5 -> 3, diagonal
    assert plan(LANGS[:6], cfg) == targets  # a pure function: the plan stage's bytes repeat
    assert plan(LANGS[:6], cfg.model_copy(update={"seed": 2})) != targets
    with pytest.raises(DesignError, match="not in studied"):
        plan(LANGS[:3], cfg.model_copy(update={"extra": [["qaa", "zzz"]]}))
