"""Token ids of each sample, encoded once and stored as flat arrays.

A split is two ``.npy`` files: ``ids`` (all token ids, uint32, concatenated)
and ``offsets`` (int64, sentence i is ``ids[offsets[i]:offsets[i+1]]``).
Training and evaluation slice these arrays and never re-tokenize. Special
tokens are added at batch time, after truncation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from bloodbank.core.io import atomic_path
from bloodbank.data.tokenizer import iter_token_ids, read_lines


@dataclass(frozen=True)
class TokenizedSplit:
    ids: np.ndarray  # (N_tokens,) uint32
    offsets: np.ndarray  # (N_sentences + 1,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sentence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def encode_file(tok: Tokenizer, path: Path) -> TokenizedSplit:
    chunks, lengths = [], [0]
    for ids in iter_token_ids(tok, read_lines([path])):
        chunks.append(np.asarray(ids, dtype=np.uint32))
        lengths.append(len(ids))
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint32)
    return TokenizedSplit(ids, np.cumsum(lengths, dtype=np.int64))


def save_splits(out_dir: Path, splits: dict[str, TokenizedSplit]) -> None:
    """Write every split into ``out_dir`` at once: the folder appears only when complete."""
    with atomic_path(out_dir, is_dir=True) as tmp:
        for name, split in splits.items():
            for kind, arr in (("ids", split.ids), ("offsets", split.offsets)):
                with (tmp / f"{name}.{kind}.npy").open("wb") as fh:
                    np.save(fh, arr, allow_pickle=False)


def load_split(in_dir: Path, name: str) -> TokenizedSplit:
    return TokenizedSplit(
        np.load(in_dir / f"{name}.ids.npy", mmap_mode="r"), np.load(in_dir / f"{name}.offsets.npy")
    )
