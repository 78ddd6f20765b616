"""The index of tokenized languages: one row per language, with the hash of its arrays.

A pair or zeroshot stage reads the token arrays of languages its own item does not
name (a source's planned targets, or every language). Declaring all of ``data/tokens``
as a dependency of each such stage made DVC hash a folder of 4N files in 2N stages,
work that grows with the square of the languages (`bench/bench_scale.py`). So one
stage writes this index, and those stages depend on it alone: a language whose arrays
change changes its row, and every stage that could read it reruns. A stage checks
the splits it reads against their hashes in the row before reading them, so arrays that
changed behind DVC's back are refused rather than read; a zeroshot stage, which reads
only test splits, hashes only those (every language's training arrays in each of N
stages would be N² reading again).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path
from bloodbank.data.token_ids import load_split

SPLITS = ("train", "test")
COLUMNS = ["language"] + [f"{s}_{c}" for s in SPLITS for c in ("sha256", "sentences", "tokens")]
CHUNK = 1 << 20


class StaleTokensError(BloodbankError, RuntimeError):
    """A language's token arrays differ from its row in the index."""


def digest(folder: Path, split: str) -> str:
    """sha256 over a split's two arrays (ids, then offsets), names and bytes."""
    h = hashlib.sha256()
    for kind in ("ids", "offsets"):
        path = folder / f"{split}.{kind}.npy"
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _row(folder: Path) -> dict:
    row: dict = {"language": folder.name}
    for split in SPLITS:
        found = load_split(folder, split)
        row[f"{split}_sha256"] = digest(folder, split)
        row[f"{split}_sentences"] = len(found)
        row[f"{split}_tokens"] = len(found.ids)
    return row


def build_index(folders: list[Path]) -> pd.DataFrame:
    """A row for each language's folder (data/tokens/<code>), sorted by code."""
    rows = sorted((_row(f) for f in folders), key=lambda r: r["language"])
    return pd.DataFrame(rows, columns=COLUMNS)


def write_index(index: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        index.to_csv(tmp, index=False, lineterminator="\n")


def read_index(path: Path) -> pd.DataFrame:
    text = {"language": str, **{f"{split}_sha256": str for split in SPLITS}}
    return pd.read_csv(path, dtype=text, keep_default_na=False)


def check_tokens(
    index: pd.DataFrame, language: str, folder: Path, splits: tuple[str, ...] = SPLITS
) -> Path:
    """``folder`` (language's arrays) once the hashes of ``splits`` (those the caller
    reads) are the index's: why a stage may read arrays it reaches only through it."""
    rows = index.loc[index["language"] == language]
    if rows.empty:
        raise StaleTokensError(f"{language}: not in the token index; run `dvc repro`")
    for split in splits:
        if digest(folder, split) != rows.iloc[0][f"{split}_sha256"]:
            raise StaleTokensError(
                f"{folder}: its {split} arrays changed since the token index was written; "
                "run `dvc repro`"
            )
    return folder
