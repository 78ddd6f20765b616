"""Gold-annotated downstream data from the synthetic grammar.

POS goes out as CoNLL-U with UD's UPOS tags; NER as IOB2 with PER, LOC and ORG
(the WikiANN / PAN-X convention: one ``token<TAB>tag`` per line, blank line
between sentences).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bloodbank.core.io import atomic_path
from bloodbank.data.synthetic.grammar import Grammar, Token, surface
from bloodbank.data.synthetic.world import rng_for

SPLITS = ("train", "dev", "test")


def annotated_sentences(code: str, world_seed: int, split: str, n: int) -> list[list[Token]]:
    """``n`` sentences for one split; each split has its own random stream."""
    grammar = Grammar(code, world_seed)
    rng = rng_for("annotated", code, split, world_seed)
    return [grammar.sentence(rng) for _ in range(n)]


def _heads(tokens: list[Token]) -> list[tuple[int, str]]:
    """A shallow but valid tree: the first verb is the root, the rest attach to it."""
    root = next((i for i, t in enumerate(tokens) if t.upos == "VERB"), 0)
    out = []
    for i, tok in enumerate(tokens):
        if i == root:
            out.append((0, "root"))
        else:
            out.append((root + 1, "punct" if tok.upos == "PUNCT" else "dep"))
    return out


def conllu_lines(sentences: Iterable[list[Token]], prefix: str) -> Iterable[str]:
    for n, tokens in enumerate(sentences, 1):
        yield f"# sent_id = {prefix}-{n}"
        yield f"# text = {surface(tokens)}"
        for i, (tok, (head, rel)) in enumerate(zip(tokens, _heads(tokens), strict=True), 1):
            yield "\t".join(
                [str(i), tok.form, tok.lemma, tok.upos, "_", "_", str(head), rel, "_", "_"]
            )
        yield ""


def iob2_lines(sentences: Iterable[list[Token]]) -> Iterable[str]:
    for tokens in sentences:
        yield from (f"{tok.form}\t{tok.ner}" for tok in tokens)
        yield ""


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
    return path
