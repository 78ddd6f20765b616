"""Sentence segmentation that works across scripts.

Two kinds of terminators: those that end a sentence only before white space
(Latin ``. ! ?``, the Greek question mark ``;`` after Greek letters, ellipsis) and those that end
it wherever they stand (Armenian ``։``, Devanagari ``। ॥``, CJK ``。！？``,
Arabic ``؟``, Urdu ``۔``, Burmese ``။``, Ethiopic ``። ፧``, Khmer ``។``).
Line breaks always end a sentence. Scripts without sentence punctuation (Thai)
fall back to lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

SPACE_TERMINATORS = ".!?;\u037e\u2026\u203c\u2047\u2048\u2049"
FREE_TERMINATORS = (
    "\u0589"  # Armenian full stop ։
    "\u061f\u06d4"  # Arabic question mark ؟, Urdu full stop ۔
    "\u0964\u0965"  # Devanagari danda । and double danda ॥
    "\u104b"  # Burmese section mark ။
    "\u1362\u1367\u1368"  # Ethiopic full stop ። question ፧ paragraph ፨
    "\u17d4\u17d5"  # Khmer ។ ៕
    "\u3002\uff01\uff1f\uff61"  # CJK 。！？｡
)
CLOSERS = "\"'\u201d\u2019\u00bb)]}\u300d\u300f\uff09"
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st vs etc eg ie cf no jr sr fig approx ca nr bzw usw".split()
)

_BOUNDARY = re.compile(
    rf"[{re.escape(SPACE_TERMINATORS)}]+[{re.escape(CLOSERS)}]*(?=\s|$)"
    rf"|[{re.escape(FREE_TERMINATORS)}]+[{re.escape(CLOSERS)}]*"
)


def _is_greek(char: str) -> bool:
    return "\u0370" <= char <= "\u03ff" or "\u1f00" <= char <= "\u1fff"


def _is_false_stop(text: str, end: int, match: str) -> bool:
    """A lone '.' after an initial or abbreviation, or before a lowercase word.

    ';' is Greek's question mark (NFC turns U+037E into it) but a semicolon
    everywhere else, so it only ends sentences after a Greek letter.
    """
    start = end - len(match)
    stop = match.rstrip(CLOSERS)
    if ";" in stop:
        return not (start > 0 and _is_greek(text[start - 1]))
    if stop != ".":
        return False
    word = text[:start].rsplit(None, 1)[-1] if text[:start].strip() else ""
    word = word.strip("".join(CLOSERS) + "(")
    if (len(word) == 1 and word.isalpha()) or word.lower().replace(".", "") in ABBREVIATIONS:
        return True
    rest = text[end:].lstrip()
    return bool(rest) and rest[0].islower()


def split_sentences(paragraph: str) -> list[str]:
    """Split one line of text into sentences, keeping their terminators."""
    out: list[str] = []
    begin = 0
    for m in _BOUNDARY.finditer(paragraph):
        if _is_false_stop(paragraph, m.end(), m.group()):
            continue
        sentence = paragraph[begin : m.end()].strip()
        if sentence:
            out.append(sentence)
        begin = m.end()
    tail = paragraph[begin:].strip()
    if tail:
        out.append(tail)
    return out


def iter_sentences(texts: Iterable[str], min_chars: int = 1) -> Iterator[str]:
    """Sentences of many texts in order; lines break sentences; short ones are dropped."""
    for text in texts:
        for line in text.splitlines():
            for sentence in split_sentences(" ".join(line.split())):
                if len(sentence) >= min_chars:
                    yield sentence
