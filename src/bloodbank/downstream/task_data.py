"""Downstream data for the languages C = Rh ∪ Rl: POS from UD, NER from WikiANN / PAN-X.

Layouts follow XTREME's downloads folder:
  ``ud-treebanks-v2.5/UD_<Name>-<Treebank>/<lang>_<tb>-ud-{train,dev,test}.conllu``, every
  treebank of a language merged (XTREME's udpos convention), and
  ``panx_dataset/<lang>/{train,dev,test}`` with ``<lang>:<token><TAB><tag>`` lines.
Sources: ``synthetic`` writes that layout from the synthetic grammar, ``local`` reads the
user's files, ``ud`` downloads a UD release first.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from bloodbank.downstream.task_files import (
    SPLITS,
    Sentence,
    TaskDataError,
    read_conllu,
    read_iob2,
    write_tsv,
)

UD_DIR = "ud-treebanks-v2.5"
PANX_DIR = "panx_dataset"

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
            raise TaskDataError(
                f"no UD {split} file for {lang}: expected "
                f"{root / UD_DIR}/UD_*/{lang}_*-ud-{split}.conllu"
            )
        return [s for f in files for s in read_conllu(f)]
    path = panx_file(root, lang, split)
    if not path.is_file():
        raise TaskDataError(f"no PAN-X {split} file for {lang}: expected {path}")
    return read_iob2(path, lang_prefix=lang)


def keep(sentences: list[Sentence], n: int) -> list[Sentence]:
    """The first ``n`` sentences, as the study truncated XTREME's data."""
    return sentences[:n]


def prepare(
    root: Path,
    out: Path,
    langs: list[str],
    tasks: list[str],
    max_sentences: dict[str, int],
    eval_sentences: int,
) -> dict:
    """Read each language's splits from ``root``, keep the first sentences, and write
    ``out/<task>/<lang>/<split>.tsv``; returns the sentence counts."""
    counts: dict = {}
    for task in tasks:
        for lang in langs:
            for split in SPLITS:
                n = max_sentences[task] if split == "train" else eval_sentences
                kept = keep(load_language(root, task, lang, split), n)
                counts.setdefault(task, {}).setdefault(lang, {})[split] = write_tsv(
                    out / task / lang / f"{split}.tsv", kept
                )
    return counts


# --- sources ----------------------------------------------------------------------------


def write_synthetic(root: Path, langs: list[str], world_seed: int, sizes: dict[str, int]) -> None:
    """The synthetic world's gold data, in XTREME's layout under ``root``."""
    from bloodbank.data.synthetic.annotated import (
        annotated_sentences,
        conllu_lines,
        iob2_lines,
        write_lines,
    )

    for lang in langs:
        for split in SPLITS:
            sents = annotated_sentences(lang, world_seed, split, sizes[split])
            write_lines(
                root / UD_DIR / f"UD_Synthetic-{lang}" / f"{lang}_synth-ud-{split}.conllu",
                conllu_lines(sents, f"{lang}-{split}"),
            )
            write_lines(
                panx_file(root, lang, split),
                (f"{lang}:{line}" if line else "" for line in iob2_lines(sents)),
            )


def fetch_ud_release(url: str, root: Path, checksum: str = "") -> Path:
    """Download a UD release (.tgz), resuming, and unpack it under ``root`` once."""
    from bloodbank.data.dumps import download

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
