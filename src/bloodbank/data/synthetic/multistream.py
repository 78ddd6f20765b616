"""Multistream dumps, laid out as Wikimedia publishes them, for tests and benchmarks.

Wikimedia's ``pages-articles-multistream.xml.bz2`` is a concatenation of independent
bz2 streams: the first holds the ``<mediawiki>`` opening and ``<siteinfo>``, each of the
next holds 100 whole pages, and the last holds the closing ``</mediawiki>``. Beside it
sit ``multistream-index.txt.bz2`` (``offset:page_id:title`` per page) and the checksum
lists, which cover both. ``write_multistream`` writes all of that from any page source:
the synthetic world's pages (real markup) or ``filler_pages`` (fast, for tens of MB).
"""

from __future__ import annotations

import bz2
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bloodbank.core.io import atomic_path
from bloodbank.data.dumps import file_digest, index_name, multistream_name
from bloodbank.data.synthetic.wikidump import _page, _siteinfo

PAGES_PER_STREAM = 100
_ID = re.compile(r"<id>(\d+)</id>")
_TITLE = re.compile(r"<title>(.*?)</title>")


def sums_name(wiki: str, date: str, algo: str) -> str:
    return f"{wiki}wiki-{date}-{algo}sums.txt"


@dataclass(frozen=True)
class Multistream:
    dump: Path
    index: Path
    sums: dict[str, Path]  # algo -> checksum list
    stream_starts: list[int]  # byte offset of every stream, the header's and footer's too


def mediawiki_open(code: str) -> str:
    return (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" '
        f'xml:lang="{code}">\n'
    )


def write_multistream(
    folder: Path,
    wiki: str,
    date: str,
    head: str,
    pages: Iterable[str],
    pages_per_stream: int = PAGES_PER_STREAM,
) -> Multistream:
    """Write the dump, its index and its sha1/md5 lists into ``folder``; ``head`` is the
    XML before the first page (``<mediawiki ...>`` and ``<siteinfo>``)."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / multistream_name(wiki, date)
    index_lines: list[str] = []
    starts: list[int] = []
    with atomic_path(dump) as tmp, tmp.open("wb") as fh:

        def stream(text: str) -> None:
            starts.append(fh.tell())
            fh.write(bz2.compress(text.encode("utf-8"), 9))

        stream(head)
        group: list[str] = []
        for page in pages:
            group.append(page)
            if len(group) == pages_per_stream:
                _write_group(group, fh.tell(), index_lines)
                stream("".join(group))
                group = []
        if group:
            _write_group(group, fh.tell(), index_lines)
            stream("".join(group))
        stream("</mediawiki>\n")
    index = folder / index_name(wiki, date)
    with atomic_path(index) as tmp:
        tmp.write_bytes(bz2.compress("".join(index_lines).encode("utf-8"), 9))
    sums = {}
    for algo in ("sha1", "md5"):
        lines = [f"{file_digest(p, algo)}  {p.name}\n" for p in (dump, index)]
        sums[algo] = folder / sums_name(wiki, date, algo)
        with atomic_path(sums[algo]) as tmp:
            tmp.write_text("".join(lines), encoding="utf-8")
    return Multistream(dump, index, sums, starts)


def _write_group(group: list[str], offset: int, lines: list[str]) -> None:
    for page in group:
        page_id = _ID.search(page)
        title = _TITLE.search(page)
        lines.append(f"{offset}:{page_id.group(1) if page_id else 0}:")
        lines.append(f"{title.group(1) if title else ''}\n")


def world_multistream(folder: Path, code: str, world_seed: int, articles: int, date: str):
    """The synthetic world's dump of ``code`` (as ``write_dump`` renders it), multistream."""
    from bloodbank.data.synthetic.wikidump import iter_dump_xml

    pieces = list(iter_dump_xml(code, world_seed, articles, date))
    head, pages = pieces[0] + pieces[1], pieces[2:-1]
    return write_multistream(folder, code, date, head, pages)


def filler_pages(code: str, pages: int, seed: int = 0, words: int = 600) -> Iterator[str]:
    """Articles of random words from a 20,000-word random lexicon: text that compresses
    about as well as Wikipedia's (bz2 about 3.5:1), and fast to make in bulk."""
    rng = np.random.default_rng([seed, pages])
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzäöüéè"))
    lengths = rng.integers(2, 11, 20_000)
    lexicon = np.array(["".join(rng.choice(letters, n)) for n in lengths])
    freq = 1.0 / np.arange(1, len(lexicon) + 1)  # Zipf, like real text
    freq /= freq.sum()
    timestamp = "2021-11-01T00:00:00Z"
    for i in range(pages):
        drawn = lexicon[rng.choice(len(lexicon), words, p=freq)]
        sentences = [" ".join(drawn[j : j + 12]).capitalize() + "." for j in range(0, words, 12)]
        body = "\n\n".join(" ".join(sentences[k : k + 5]) for k in range(0, len(sentences), 5))
        yield _page(f"{drawn[0].capitalize()} {i}", 0, 10 + i, body, timestamp)


def filler_multistream(folder: Path, code: str, date: str, pages: int, seed: int = 0):
    """A multistream dump of ``filler_pages``: about 1.3 MB of bz2 per 1,000 pages."""
    head = mediawiki_open(code) + _siteinfo(code)
    return write_multistream(folder, code, date, head, filler_pages(code, pages, seed))
