"""Pair designs: balanced, seeded, nested as they grow; pairs.yaml kept in step."""

from __future__ import annotations

from collections import Counter

import pytest

from bloodbank.core.config import PairsConfig
from bloodbank.graph.design import (
    DesignError,
    PlanError,
    all_pairs,
    balanced,
    check_plan,
    connected,
    per_language,
    plan_pairs,
    stage_items,
    write_plan,
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


def test_stage_items_name_the_pairs_as_dvc_names_the_stages():
    items = stage_items([("qab", "qaa")], ["qaa", "qab"], diagonal=True)
    assert list(items) == ["qaa-qaa", "qab-qaa", "qab-qab"]
    assert items["qab-qaa"] == {"src": "qab", "tgt": "qaa"}


def test_pairs_yaml_must_follow_params(tmp_path):
    path = tmp_path / "pairs.yaml"
    cfg = PairsConfig(design="balanced", fraction=0.5, seed=1, matched_diagonal=True)
    with pytest.raises(PlanError, match="run `lbb pairs`"):
        check_plan(path, LANGS[:6], cfg)
    stages = write_plan(path, LANGS[:6], cfg)
    assert len(stages) == 6 * 3 + 6  # k = 0.5 × 5 = 2.5 -> 3, and the diagonal
    assert check_plan(path, LANGS[:6], cfg) == stages
    with pytest.raises(PlanError, match="does not follow params.yaml"):
        check_plan(path, LANGS[:6], cfg.model_copy(update={"seed": 2}))
    with pytest.raises(PlanError, match="does not follow"):
        check_plan(path, LANGS[:5], cfg)
