from collections import Counter

import numpy as np
import pytest
from scipy.stats import wasserstein_distance
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

from bloodbank.data.sample_stats import (
    emd,
    information_ratio,
    measure,
    pearson,
    sample_report,
    stride,
)


def word_tokenizer() -> Tokenizer:
    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, ".": 4, "dogs": 5}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def test_emd_by_hand():
    # Moving all mass from length 2 to length 5 costs 3; half of it costs 1.5.
    assert emd(Counter({2: 10}), Counter({5: 4})) == pytest.approx(3.0)
    assert emd(Counter({2: 1, 5: 1}), Counter({5: 2})) == pytest.approx(1.5)
    assert emd(Counter({3: 7}), Counter({3: 1})) == 0.0
    assert np.isnan(emd(Counter(), Counter({1: 1})))


def test_emd_matches_scipy_on_raw_values():
    rng = np.random.default_rng(0)
    a, b = rng.integers(1, 30, 500), rng.integers(3, 40, 300)
    assert emd(Counter(a.tolist()), Counter(b.tolist())) == pytest.approx(
        wasserstein_distance(a, b)
    )


def test_measure_counts_words_tokens_and_lengths():
    s = measure(word_tokenizer(), ["the cat sat.", "dogs sat"])
    assert (s.sentences, s.chars, s.words, s.tokens) == (2, 20, 6, 6)
    assert s.sentence_words == Counter({4: 1, 2: 1})
    assert s.word_chars == Counter({3: 4, 1: 1, 4: 1})
    assert s.token_ids == {1, 2, 3, 4, 5}


def test_sample_report_of_identical_texts_has_zero_emd():
    tok = word_tokenizer()
    text = ["the cat sat.", "dogs sat", "the dogs."]
    rep = sample_report(measure(tok, text), measure(tok, text))
    assert rep["emd"] == {"sentence_words": 0.0, "sentence_tokens": 0.0, "word_chars": 0.0}
    assert rep["information_ratio"] == pytest.approx(9 / 5)  # 9 tokens, 5 distinct


def test_information_ratio_and_stride():
    assert information_ratio(100, 25) == 4.0
    assert np.isnan(information_ratio(0, 0))
    assert stride(10, 3) == 4 and stride(2, 100) == 1


def test_pearson_matches_scipy_and_handles_degenerate_input():
    from scipy.stats import pearsonr

    x, y = [1, 2, 3, 4, 6], [2, 1, 4, 3, 7]
    res = pearsonr(x, y)
    assert pearson(x, y) == {
        "r": pytest.approx(res.statistic),
        "p": pytest.approx(res.pvalue),
        "n": 5,
    }
    assert np.isnan(pearson([1, 2], [3, 4])["r"])
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3])["r"])
