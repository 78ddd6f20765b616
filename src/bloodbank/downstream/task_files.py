"""Downstream file formats: UD's CoNLL-U (UPOS), WikiANN / PAN-X IOB2, and the kept TSV.

A malformed line stops the stage with ``file:line: reason``. The kept data is
``word<TAB>tag`` lines, one blank line between sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path

SPLITS = ("train", "dev", "test")
UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
LABELS = {"pos": UPOS, "ner": NER_TAGS}
_ID = re.compile(r"^\d+$")


class TaskDataError(BloodbankError, ValueError):
    """Malformed or missing downstream data; the message names file and line."""


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                yield n, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as e:
        raise TaskDataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None


def _sentences(path: Path, parse) -> list[Sentence]:
    """Blank-line separated sentences; ``parse(n, line, tags)`` gives ``(word, tag)`` for a
    line, or None to skip it, and raises TaskDataError naming ``path:n``."""
    out, words, tags = [], [], []
    for n, line in _lines(path):
        if not line.strip():
            if words:
                out.append(Sentence(tuple(words), tuple(tags)))
            words, tags = [], []
            continue
        item = parse(n, line, tags)
        if item is not None:
            words.append(item[0])
            tags.append(item[1])
    if words:
        out.append(Sentence(tuple(words), tuple(tags)))
    return out


def read_conllu(path: Path) -> list[Sentence]:
    """Words and UPOS tags; multiword-token ranges (``3-4``) and empty nodes (``5.1``) are
    skipped as UD prescribes for word-level tagging."""

    def parse(n: int, line: str, tags: list[str]) -> tuple[str, str] | None:
        if line.startswith("#"):
            return None
        cols = line.split("\t")
        if len(cols) != 10:
            raise TaskDataError(f"{path}:{n}: expected 10 tab-separated columns, found {len(cols)}")
        if "-" in cols[0] or "." in cols[0]:
            return None
        if not _ID.match(cols[0]) or int(cols[0]) != len(tags) + 1:
            raise TaskDataError(f"{path}:{n}: word id {cols[0]!r} does not follow {len(tags)}")
        if cols[3] not in UPOS:
            raise TaskDataError(f"{path}:{n}: {cols[3]!r} is not a UPOS tag")
        return cols[1], cols[3]

    return _sentences(path, parse)


def read_iob2(path: Path, lang_prefix: str | None = None) -> list[Sentence]:
    """``token<TAB>tag`` lines, sentences separated by blank lines; PAN-X's ``lang:``
    prefix on tokens is removed. Tags must be IOB2: ``I-X`` only after ``B-X`` or ``I-X``."""

    def parse(n: int, line: str, tags: list[str]) -> tuple[str, str]:
        cols = line.split("\t")
        if len(cols) != 2:
            raise TaskDataError(f"{path}:{n}: expected token<TAB>tag, found {len(cols)} columns")
        token, tag = cols
        if lang_prefix and token.startswith(lang_prefix + ":"):
            token = token[len(lang_prefix) + 1 :]
        if tag not in NER_TAGS:
            raise TaskDataError(f"{path}:{n}: {tag!r} is not one of {', '.join(NER_TAGS)}")
        if tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
            raise TaskDataError(f"{path}:{n}: {tag} does not continue an entity of its type (IOB2)")
        return token, tag

    return _sentences(path, parse)


def write_tsv(path: Path, sentences: Iterable[Sentence]) -> int:
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for s in sentences:
            fh.writelines(f"{w}\t{t}\n" for w, t in zip(s.words, s.tags, strict=True))
            fh.write("\n")
            n += 1
    return n


def read_tsv(path: Path, task: str) -> list[Sentence]:
    sentences = read_iob2(path) if task == "ner" else _read_pos_tsv(path)
    if not sentences:
        raise TaskDataError(f"{path}: no sentences")
    return sentences


def _read_pos_tsv(path: Path) -> list[Sentence]:
    def parse(n: int, line: str, tags: list[str]) -> tuple[str, str]:
        cols = line.split("\t")
        if len(cols) != 2 or cols[1] not in UPOS:
            raise TaskDataError(f"{path}:{n}: expected word<TAB>UPOS, got {line!r}")
        return cols[0], cols[1]

    return _sentences(path, parse)
