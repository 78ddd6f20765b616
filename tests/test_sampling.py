import random

import pytest

from bloodbank.data.sampling import (
    CorpusCount,
    ShortLanguageError,
    count_corpus,
    plan_sample,
    take_sample,
    write_sample,
)

SENTENCES = [f"Sentence number {i:04d} is here." for i in range(1000)]  # 29 chars each


def test_count_corpus():
    assert count_corpus(["ab", "cde"]) == CorpusCount(2, 5, 3)


def test_sample_is_consecutive_disjoint_and_sized():
    count = count_corpus(SENTENCES)
    plan = plan_sample(count, 3000, 600, random.Random(1))
    taken = list(take_sample(SENTENCES, plan))
    train = [s for split, s in taken if split == "train"]
    test = [s for split, s in taken if split == "test"]
    assert 3000 <= sum(map(len, train)) < 3000 + 29
    assert 600 <= sum(map(len, test)) < 600 + 29
    first = SENTENCES.index(train[0])
    assert train + test == SENTENCES[first : first + len(train) + len(test)]
    assert not set(train) & set(test)


def test_start_depends_on_seed_only():
    count = count_corpus(SENTENCES)
    a = plan_sample(count, 3000, 600, random.Random("sample:qaa:0"))
    b = plan_sample(count, 3000, 600, random.Random("sample:qaa:0"))
    c = plan_sample(count, 3000, 600, random.Random("sample:qaa:1"))
    assert a == b and a.start_char != c.start_char


def test_start_leaves_room_at_the_end():
    count = count_corpus(SENTENCES)
    for seed in range(200):
        plan = plan_sample(count, 20000, 8500, random.Random(seed))
        taken = list(take_sample(SENTENCES, plan))
        assert sum(len(s) for split, s in taken if split == "test") >= 8500


def test_short_language_reports_both_counts():
    count = count_corpus(SENTENCES)
    with pytest.raises(ShortLanguageError, match=r"xx: has 29,000 characters .* 40,000 were"):
        plan_sample(count, 35000, 5000, random.Random(0), name="xx")
    with pytest.raises(ShortLanguageError, match="slack"):  # enough only without slack
        plan_sample(count, 20000, 9000, random.Random(0))


def test_short_language_allowed_scales_both_splits():
    count = count_corpus(SENTENCES)
    plan = plan_sample(count, 35000, 5000, random.Random(0), allow_short=True)
    assert plan.short and plan.start_char == 0
    usable = 29000 - 3 * 29
    assert (plan.train_chars, plan.test_chars) == (usable * 35 // 40, usable - usable * 35 // 40)
    taken = list(take_sample(SENTENCES, plan))
    assert sum(len(s) for split, s in taken if split == "test") >= plan.test_chars


def test_write_sample_writes_lines_atomically(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    res = write_sample(
        lambda: iter(SENTENCES), train, test, chars=3000, test_chars=600, rng=random.Random(0)
    )
    lines = train.read_text().splitlines()
    assert len(lines) == res.train_sentences and sum(map(len, lines)) == res.train_chars
    assert len(test.read_text().splitlines()) == res.test_sentences
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.txt", "train.txt"]


def test_failed_sample_leaves_nothing(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    with pytest.raises(ShortLanguageError):
        write_sample(
            lambda: iter(SENTENCES), train, test, chars=30000, test_chars=6000, rng=random.Random(0)
        )
    assert list(tmp_path.iterdir()) == []
