"""Downstream data: UD POS (CoNLL-U, UPOS) and WikiANN / PAN-X NER (IOB2).

Layouts follow XTREME's downloads folder:
  ``ud-treebanks-v2.5/UD_<Name>-<Treebank>/<lang>_<tb>-ud-{train,dev,test}.conllu``, every
  treebank of a language merged (XTREME's udpos convention), and
  ``panx_dataset/<lang>/{train,dev,test}`` with ``<lang>:<token><TAB><tag>`` lines.
Sources: ``synthetic`` writes that layout from the synthetic grammar, ``local`` reads the
user's files, ``ud`` downloads a UD release first. A malformed line stops the stage with
``file:line: reason``. The kept data is written as ``word<TAB>tag`` files per split.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bloodbank.io import atomic_path

SPLITS = ("train", "dev", "test")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
LABELS = {"pos": UPOS, "ner": NER_TAGS}
UD_DIR = "ud-treebanks-v2.5"
PANX_DIR = "panx_dataset"
_ID = re.compile(r"^\d+$")


class TaskDataError(ValueError):
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
            raise TaskDataError(f"{path}:{n}: expected 10 tab-separated columns, found "
                                f"{len(cols)}")
        if "-" in cols[0] or "." in cols[0]:
            return None
        if not _ID.match(cols[0]) or int(cols[0]) != len(tags) + 1:
            raise TaskDataError(f"{path}:{n}: word id {cols[0]!r} does not follow "
                                f"{len(tags)}")
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
            raise TaskDataError(f"{path}:{n}: expected token<TAB>tag, found {len(cols)} "
                                "columns")
        token, tag = cols
        if lang_prefix and token.startswith(lang_prefix + ":"):
            token = token[len(lang_prefix) + 1:]
        if tag not in NER_TAGS:
            raise TaskDataError(f"{path}:{n}: {tag!r} is not one of {', '.join(NER_TAGS)}")
        if tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
            raise TaskDataError(f"{path}:{n}: {tag} does not continue an entity of its type "
                                "(IOB2)")
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


# --- where a language's files are -------------------------------------------------------

def ud_files(root: Path, lang: str, split: str) -> list[Path]:
    """Every treebank file of ``lang`` for ``split`` (XTREME merges them), sorted."""
    return sorted((root / UD_DIR).glob(f"UD_*/{lang}_*-ud-{split}.conllu"))


def panx_file(root: Path, lang: str, split: str) -> Path:
    return root / PANX_DIR / lang / split


def load_language(root: Path, task: str, lang: str, split: str) -> list[Sentence]:
    if task == "pos":
        files = ud_files(root, lang, split)
        if not files:
            raise TaskDataError(f"no UD {split} file for {lang}: expected "
                                f"{root / UD_DIR}/UD_*/{lang}_*-ud-{split}.conllu")
        return [s for f in files for s in read_conllu(f)]
    path = panx_file(root, lang, split)
    if not path.is_file():
        raise TaskDataError(f"no PAN-X {split} file for {lang}: expected {path}")
    return read_iob2(path, lang_prefix=lang)


def keep(sentences: list[Sentence], n: int) -> list[Sentence]:
    """The first ``n`` sentences, as the study truncated XTREME's data."""
    return sentences[:n]


def prepare(root: Path, out: Path, langs: list[str], tasks: list[str],
            max_sentences: dict[str, int], eval_sentences: int) -> dict:
    """Read each language's splits from ``root``, keep the first sentences, and write
    ``out/<task>/<lang>/<split>.tsv``; returns the sentence counts."""
    counts: dict = {}
    for task in tasks:
        for lang in langs:
            for split in SPLITS:
                n = max_sentences[task] if split == "train" else eval_sentences
                kept = keep(load_language(root, task, lang, split), n)
                counts.setdefault(task, {}).setdefault(lang, {})[split] = write_tsv(
                    out / task / lang / f"{split}.tsv", kept)
    return counts


# --- sources ----------------------------------------------------------------------------

def write_synthetic(root: Path, langs: list[str], world_seed: int, sizes: dict[str, int]
                    ) -> None:
    """The synthetic world's gold data, in XTREME's layout under ``root``."""
    from bloodbank.synthetic.annotated import (
        annotated_sentences,
        conllu_lines,
        iob2_lines,
        write_lines,
    )

    for lang in langs:
        for split in SPLITS:
            sents = annotated_sentences(lang, world_seed, split, sizes[split])
            write_lines(root / UD_DIR / f"UD_Synthetic-{lang}" / f"{lang}_synth-ud-{split}.conllu",
                        conllu_lines(sents, f"{lang}-{split}"))
            write_lines(panx_file(root, lang, split),
                        (f"{lang}:{line}" if line else "" for line in iob2_lines(sents)))


def fetch_ud_release(url: str, root: Path, checksum: str = "") -> Path:
    """Download a UD release (.tgz), resuming, and unpack it under ``root`` once."""
    from bloodbank.dumps import download

    if any((root / UD_DIR).glob("UD_*")):
        return root / UD_DIR
    archive = root / Path(url).name
    if not archive.exists():
        download(url, archive, checksum, "sha256")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".conllu")]
        for m in members:
            m.name = f"{UD_DIR}/" + "/".join(Path(m.name).parts[-2:])
        tar.extractall(root, members=members, filter="data")
    return root / UD_DIR
