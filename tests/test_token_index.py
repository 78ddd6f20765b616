"""The token index: what the pair and zeroshot stages depend on instead of data/tokens."""

from __future__ import annotations

import numpy as np
import pytest

from bloodbank.data.token_ids import TokenizedSplit, save_splits
from bloodbank.data.token_index import (
    StaleTokensError,
    build_index,
    check_tokens,
    digest,
    read_index,
    write_index,
)


def tokens(folder, sentences: list[list[int]]) -> None:
    ids = np.array([t for s in sentences for t in s], dtype=np.uint32)
    offsets = np.cumsum([0, *map(len, sentences)], dtype=np.int64)
    split = TokenizedSplit(ids, offsets)
    save_splits(folder, {"train": split, "test": TokenizedSplit(ids[:2], offsets[:2])})


@pytest.fixture
def root(tmp_path):
    tokens(tmp_path / "qab", [[5, 6, 7], [8, 9]])
    tokens(tmp_path / "qaa", [[1, 2], [3], [4, 4, 4]])
    return tmp_path


def test_the_index_has_a_row_per_language_in_code_order(root, tmp_path):
    index = build_index([root / "qab", root / "qaa"])
    assert list(index["language"]) == ["qaa", "qab"]
    assert list(index["train_sentences"]) == [3, 2] and list(index["train_tokens"]) == [6, 5]
    assert list(index["test_sentences"]) == [1, 1]
    write_index(index, tmp_path / "tokens.csv")
    back = read_index(tmp_path / "tokens.csv")
    assert back.equals(index)
    assert check_tokens(back, "qab", root / "qab") == root / "qab"


def test_a_changed_array_changes_the_hash_and_is_refused(root):
    index = build_index([root / "qaa", root / "qab"])
    before = digest(root / "qaa", "train")
    tokens(root / "qaa", [[1, 2], [3], [4, 4, 5]])  # one training token differs
    assert digest(root / "qaa", "train") != before
    with pytest.raises(StaleTokensError, match="train arrays changed since the token index"):
        check_tokens(index, "qaa", root / "qaa")
    assert check_tokens(index, "qaa", root / "qaa", ("test",)) == root / "qaa"  # unchanged
    with pytest.raises(StaleTokensError, match="qac: not in the token index"):
        check_tokens(index, "qac", root / "qab")


def test_another_language_s_arrays_are_refused_under_its_name(root):
    index = build_index([root / "qaa", root / "qab"])
    with pytest.raises(StaleTokensError):
        check_tokens(index, "qaa", root / "qab")
