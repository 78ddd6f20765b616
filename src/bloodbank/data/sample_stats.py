"""Is a sample balanced and representative? Counts, information ratio and EMDs.

Words are the shared tokenizer's pre-tokenized words (white space and
punctuation, CJK ideographs one by one), so word counts mean the same thing in
every script. Earth Mover's Distances compare the sample's length distributions
with the full corpus's (sentence length in words and in tokens, word length in
characters), in the distribution's own unit, with scipy's Wasserstein distance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats as sps
from tokenizers import Tokenizer

from bloodbank.data.tokenizer import read_lines, token_counts


@dataclass
class LengthStats:
    """Histograms and totals of one body of text."""

    sentences: int = 0
    chars: int = 0
    words: int = 0
    tokens: int = 0
    token_ids: set[int] = field(default_factory=set)
    sentence_words: Counter = field(default_factory=Counter)
    sentence_tokens: Counter = field(default_factory=Counter)
    word_chars: Counter = field(default_factory=Counter)

    def add(self, sentence: str, encoding) -> None:
        self.sentences += 1
        self.chars += len(sentence)
        ids = encoding.ids
        self.tokens += len(ids)
        self.token_ids.update(ids)
        spans: dict[int, list[int]] = {}
        for wid, (start, end) in zip(encoding.word_ids, encoding.offsets, strict=True):
            if wid is None:
                continue
            span = spans.setdefault(wid, [start, end])
            span[1] = end
        self.words += len(spans)
        self.sentence_words[len(spans)] += 1
        self.sentence_tokens[len(ids)] += 1
        self.word_chars.update(end - start for start, end in spans.values())


def measure(tok: Tokenizer, sentences: Iterable[str], batch: int = 2048) -> LengthStats:
    out = LengthStats()
    buf: list[str] = []

    def flush() -> None:
        for s, enc in zip(buf, tok.encode_batch(buf, add_special_tokens=False), strict=True):
            out.add(s, enc)
        buf.clear()

    for s in sentences:
        buf.append(s)
        if len(buf) == batch:
            flush()
    flush()
    return out


def emd(a: Counter, b: Counter) -> float:
    """Earth Mover's Distance between two histograms of integer lengths."""
    if not a or not b:
        return float("nan")
    ka, kb = sorted(a), sorted(b)
    return float(sps.wasserstein_distance(ka, kb, [a[k] for k in ka], [b[k] for k in kb]))


def information_ratio(tokens: int, unique: int) -> float:
    """Tokens per distinct token (section 3.1 of the study)."""
    return tokens / unique if unique else float("nan")


def sample_report(sample: LengthStats, reference: LengthStats) -> dict:
    return {
        "characters": sample.chars,
        "sentences": sample.sentences,
        "words": sample.words,
        "tokens": sample.tokens,
        "unique_tokens": len(sample.token_ids),
        "information_ratio": information_ratio(sample.tokens, len(sample.token_ids)),
        "emd": {
            "sentence_words": emd(sample.sentence_words, reference.sentence_words),
            "sentence_tokens": emd(sample.sentence_tokens, reference.sentence_tokens),
            "word_chars": emd(sample.word_chars, reference.word_chars),
        },
        "reference_sentences": reference.sentences,
    }


def pearson(x: list[float], y: list[float]) -> dict:
    """Pearson r with its p-value; NaN when fewer than three points."""
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"r": float("nan"), "p": float("nan"), "n": len(x)}
    res = sps.pearsonr(x, y)
    return {"r": float(res.statistic), "p": float(res.pvalue), "n": len(x)}


def stride(total: int, cap: int) -> int:
    """Take every k-th sentence so that at most ``cap`` are measured."""
    return max(1, -(-total // cap))


def language_report(
    tok: Tokenizer,
    corpus: Callable[[], Iterable[str]],
    sample_path: Path,
    corpus_sentences: int,
    reference_cap: int,
) -> dict:
    """Stats of a sample against (a regular subsample of) its full corpus."""
    step = stride(corpus_sentences, reference_cap)
    reference = measure(tok, (s for i, s in enumerate(corpus()) if i % step == 0))
    with sample_path.open(encoding="utf-8") as fh:
        sample = measure(tok, (line.rstrip("\n") for line in fh))
    report = sample_report(sample, reference)
    report["reference_stride"] = step
    return report


def tokenizer_report(tok: Tokenizer, samples: dict[str, Path]) -> dict:
    """Per-language information ratio and its consistency across languages (section 3.1)."""
    per_lang = {}
    for code, path in samples.items():
        total, unique = token_counts(tok, read_lines([path]))
        per_lang[code] = {
            "tokens": total,
            "unique_tokens": unique,
            "information_ratio": information_ratio(total, unique),
        }
    codes = sorted(per_lang)
    corr = pearson(
        [per_lang[c]["tokens"] for c in codes], [per_lang[c]["unique_tokens"] for c in codes]
    )
    ratios = [per_lang[c]["information_ratio"] for c in codes]
    return {
        "vocab_size": tok.get_vocab_size(),
        "languages": per_lang,
        "tokens_vs_unique": corr,
        "information_ratio_cv": float(np.std(ratios) / np.mean(ratios)) if ratios else None,
    }
