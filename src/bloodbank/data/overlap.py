"""Lexical overlap of two languages under the shared tokenizer, from their samples alone.

For languages s and t with token distributions p_s and p_t over the vocabulary (their
training samples' token ids, special tokens never occur there), the overlap is
Σ_w min(p_s(w), p_t(w)): 1 for the same distribution, 0 for languages sharing no token,
symmetric, and one minus their total-variation distance. Languages in one script share
most single characters, so the weight is on how often each shared piece is used, not on
whether it occurs. It costs one pass over each sample and n² vector minima, no model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.data.token_ids import load_split


def distribution(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Token frequencies as shares (all zeros for an empty sample)."""
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab_size)
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def overlap_matrix(distributions: pd.DataFrame) -> pd.DataFrame:
    """Languages × languages overlap from a languages × vocabulary frame of shares."""
    p = distributions.to_numpy(dtype=float)
    out = np.empty((len(p), len(p)))
    for i, row in enumerate(p):  # one row at a time: memory n × V, not n² × V
        out[i] = np.minimum(row[None, :], p).sum(axis=1)
    names = list(distributions.index)
    return pd.DataFrame(out, index=names, columns=names)


def lexical_overlap(
    langs: list[str], tokens_dir: Callable[[str], Path], vocab_size: int
) -> pd.DataFrame:
    """The overlap of every two of ``langs``, from each one's tokenized training sample."""
    rows = [distribution(load_split(tokens_dir(t), "train").ids, vocab_size) for t in langs]
    return overlap_matrix(pd.DataFrame(np.vstack(rows), index=langs))


def mean_off_diagonal(matrix: pd.DataFrame) -> float:
    """The mean over pairs of two different languages (NaN for one language)."""
    values = matrix.to_numpy(dtype=float)
    off = ~np.eye(len(values), dtype=bool)
    return float(values[off].mean()) if off.any() else float("nan")
