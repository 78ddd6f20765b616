"""A language's sample without its whole dump: the streams of a multistream dump, by Range.

Wikimedia's ``pages-articles-multistream.xml.bz2`` is a concatenation of independent bz2
streams of 100 whole pages each, after one stream with ``<siteinfo>``. The study keeps
consecutive sentences from a random start, so it needs only the streams that hold them:

1. The file's size, from a one-byte Range request (which also tells whether the mirror
   honours Range at all).
2. The start, drawn uniformly over the file's compressed bytes after the header (so
   over text, roughly: a stream's compressed size follows its text), then moved to the
   first stream boundary at or after it. A boundary is found without the index (hundreds
   of MB for English): scan forward for a bz2 stream header and confirm it by
   decompressing a whole stream that starts with ``<page>``.
3. The sample part: consecutive streams from the start, fetched in growing ranges and
   extracted with wikiextractor as they come, until their sentences hold
   ``text_chars`` characters (the sample and the test split, plus a margin). If the
   file ends first, the part grows backwards from the start instead.
4. The reference part: ``reference_streams`` streams spread over the whole file, in
   runs of ``reference_run`` consecutive streams from seeded random offsets: the picture
   of the corpus the sample statistics compare with (§3.1).

The snapshot is a valid multistream ``.xml.bz2``: the fetched streams byte for byte
(header, sample part, reference part, in file order within each part) and a closing
``</mediawiki>`` stream. Its JSON manifest says exactly what was fetched (byte ranges,
page ids of each part, the file's size and published checksums), so that it can be
fetched again identically; a rerun after an interruption reads the ranges it already
has from a cache folder beside the output.
"""

from __future__ import annotations

import bz2
import json
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tqdm import tqdm

from bloodbank.core.config import StreamsConfig
from bloodbank.core.io import atomic_path
from bloodbank.data import http
from bloodbank.data.dumps import (
    DumpError,
    Limits,
    PageGuard,
    checksum_list,
    download,
    dump_url,
    index_name,
    multistream_name,
    published_size,
)

MAGIC = re.compile(rb"BZh[1-9]\x31\x41\x59\x26\x53\x59")  # a bz2 stream's first bytes
SMALL = 1 << 13  # the first range read for a stream or a scan; each next one doubles
LARGE = 1 << 20  # ... up to this
DENSITY = 0.25  # compressed bytes per character of sentences, a first guess (Wikipedia:
# about 0.3-0.5); later ranges follow the density of the streams read so far
FOOTER = bz2.compress(b"</mediawiki>\n", 9)
_PAGE_ID = re.compile(rb"<page>\s*<title>.*?</title>\s*<ns>-?\d+</ns>\s*<id>(\d+)</id>", re.S)
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
PROVENANCE = "source.json"  # in the range cache: where its pieces came from
DRAW = "uniform over the compressed bytes after the header stream, moved to the next stream"


class RangeNotSupported(DumpError):
    """The mirror answers a Range request with the whole file."""


class Ranges:
    """Byte ranges of one file. Every byte is read from the source once: pieces already
    read are kept and served again (a boundary is confirmed by decompressing the stream
    that a reader then takes)."""

    size: int
    fetched: int = 0  # bytes that crossed the network
    requests: int = 0

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pieces: dict[int, bytes] = {}  # start -> bytes, disjoint

    def read(self, start: int, end: int) -> bytes:
        out = bytearray()
        pos = start
        while pos < end:
            held = next(((a, b) for a, b in self.pieces.items() if a <= pos < a + len(b)), None)
            if held is not None:
                a, b = held
                piece = b[pos - a : end - a]
            else:
                upto = min([end, *(a for a in self.pieces if a > pos)])
                piece = self._load(pos, upto)
                self.pieces[pos] = piece
            out += piece
            pos += len(piece)
        return bytes(out)

    def forget(self, start: int, end: int) -> str:
        """Drop every piece that overlaps bytes ``start``–``end`` (bytes that proved bad),
        so that the next read fetches them again; a note for the error message."""
        for a in [a for a, b in self.pieces.items() if a < end and start < a + len(b)]:
            del self.pieces[a]
        return ""

    def _load(self, start: int, end: int) -> bytes:
        raise NotImplementedError


class FileRanges(Ranges):
    """A local copy (the whole dump, downloaded because the mirror ignores Range)."""

    def __init__(self, path: Path, limits: Limits) -> None:
        super().__init__(limits)
        self.path = path
        self.size = path.stat().st_size

    def _load(self, start: int, end: int) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(start)
            return fh.read(end - start)


class HttpRanges(Ranges):
    """Ranges of a URL by HTTP Range requests. A dropped transfer resumes from its last
    byte; every range is kept in ``cache`` as it arrives, so a rerun after an
    interruption asks the network only for what it does not have yet (the plan is
    seeded, so a rerun asks for the same ranges). The cache records where its pieces
    came from (URL, file size, published checksum) and is emptied when any of these
    changes; a piece that proves bad is deleted from it."""

    def __init__(
        self,
        url: str,
        cache: Path,
        timeout: float,
        retries: int,
        backoff: float = 1.0,
        *,
        limits: Limits,
        checksum: str = "",
        listed_size: int | None = None,
    ) -> None:
        super().__init__(limits)
        self.url, self.cache, self.timeout = url, cache, timeout
        self.retries, self.backoff = retries, backoff
        self.session = requests.Session()  # one connection for the many small ranges
        self.final_url: str | None = None  # where a redirect led, if it did
        self.size = self._size(listed_size)
        self.size_check = "dumpstatus.json" if listed_size is not None else "HTTP 416 past the end"
        self._own_cache({"url": url, "file_bytes": self.size, "checksum": checksum})

    def _own_cache(self, provenance: dict) -> None:
        record = self.cache / PROVENANCE
        try:
            held = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None
        except (OSError, ValueError):
            held = None
        if held != provenance:  # pieces of another file, or of unknown origin
            shutil.rmtree(self.cache, ignore_errors=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps(provenance, sort_keys=True), encoding="utf-8")

    def _size(self, listed: int | None) -> int:
        """The file's size from a one-byte Range answer, checked against ``listed`` (the
        snapshot's dumpstatus.json) or, without it, against a read past the end."""
        try:
            with http.get(
                self.session, self.url, headers={"Range": "bytes=0-0"}, timeout=self.timeout
            ) as resp:
                if resp.status_code == 404:
                    raise DumpError(f"{self.url}: not found (HTTP 404): no such wiki or date")
                resp.raise_for_status()
                self.final_url = http.final_url(resp, self.url)
                if resp.status_code != 206 or "Content-Range" not in resp.headers:
                    raise RangeNotSupported(
                        f"{self.url}: the mirror ignores HTTP Range requests (answered "
                        f"{resp.status_code} with the whole file); choose another mirror, or "
                        "set dump.streams.no_range: whole to download the whole dump"
                    )
                reported = _total(self.url, resp.headers["Content-Range"])
            if reported is None and listed is None:
                raise DumpError(
                    f"{self.url}: the mirror does not tell the file's size (Content-Range "
                    "'bytes 0-0/*') and no dumpstatus.json lists it; choose another mirror"
                )
            if listed is not None:
                if reported is not None and reported != listed:
                    raise DumpError(
                        f"{self.url}: the mirror reports {reported:,} bytes, the snapshot's "
                        f"dumpstatus.json {listed:,}; choose another mirror"
                    )
                return listed
            assert reported is not None
            self._nothing_past(reported)
            return reported
        except requests.RequestException as e:
            raise DumpError(f"{self.url}: {e}") from None

    def _nothing_past(self, size: int) -> None:
        """A mirror that under-reports the size still serves the bytes past it."""
        with http.get(
            self.session, self.url, headers={"Range": f"bytes={size}-{size}"}, timeout=self.timeout
        ) as resp:
            if resp.status_code == 206:
                raise DumpError(
                    f"{self.url}: the mirror reports {size:,} bytes but serves bytes past "
                    "them; choose another mirror"
                )

    def forget(self, start: int, end: int) -> str:
        super().forget(start, end)
        for piece in self.cache.glob("*-*"):
            a, _, b = piece.name.partition("-")
            if a.isdigit() and b.isdigit() and int(a) < end and start < int(b):
                piece.unlink(missing_ok=True)
        return f"; its bytes were dropped from {self.cache}, so a rerun fetches them again"

    def _load(self, start: int, end: int) -> bytes:
        cached = self.cache / f"{start}-{end}"
        if cached.is_file():
            data = cached.read_bytes()
            if len(data) == end - start:
                return data
        got = bytearray()
        for attempt in range(self.retries + 1):
            try:
                self._fetch(start + len(got), end, got)
                if start + len(got) < end:
                    raise _Short(f"the transfer stopped at byte {start + len(got)}")
                break
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                _Short,
            ) as e:
                if attempt == self.retries:
                    raise DumpError(
                        f"{self.url}: bytes {start}-{end - 1} failed after "
                        f"{self.retries + 1} attempts ({e}); rerun to resume"
                    ) from None
                time.sleep(self.backoff * 2**attempt)
            except requests.RequestException as e:  # HTTP errors, redirects out of http(s)
                raise DumpError(f"{self.url}: {e}") from None
        with atomic_path(cached) as tmp:
            tmp.write_bytes(bytes(got))
        return bytes(got)

    def _fetch(self, start: int, end: int, into: bytearray) -> None:
        self.requests += 1
        headers = {"Range": f"bytes={start}-{end - 1}"}
        until = http.deadline(self.timeout, end - start, self.limits.rate)
        with http.get(self.session, self.url, headers=headers, timeout=self.timeout) as resp:
            resp.raise_for_status()
            if resp.status_code != 206:
                raise RangeNotSupported(f"{self.url}: the mirror stopped honouring Range")
            first = _first(resp.headers.get("Content-Range", ""))
            if first != start:
                raise DumpError(
                    f"{self.url}: asked for bytes from {start}, the mirror answered "
                    f"{resp.headers.get('Content-Range')!r}"
                )
            for chunk in http.body(resp, until, limit=end - start):
                self.fetched += len(chunk)
                into += chunk


def _total(url: str, header: str) -> int | None:
    """The full size in a Content-Range header; None for RFC 7233's unknown size (*)."""
    found = _CONTENT_RANGE.fullmatch(header.strip())
    if found is None:
        raise DumpError(f"{url}: an unreadable Content-Range header: {header!r}")
    return None if found.group(3) == "*" else int(found.group(3))


def _first(header: str) -> int | None:
    found = _CONTENT_RANGE.fullmatch(header.strip())
    return int(found.group(1)) if found else None


class _Short(OSError):
    pass


@dataclass
class Stream:
    offset: int
    data: bytes  # compressed, as fetched
    text: bytes = field(repr=False)  # decompressed XML; emptied by ``light()``
    ids: list[int] = field(init=False)
    is_footer: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ids = [int(m) for m in _PAGE_ID.findall(self.text)]
        self.is_footer = b"<page>" not in self.text and b"</mediawiki>" in self.text

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def page_ids(self) -> list[int]:
        return self.ids

    def light(self) -> Stream:
        """The stream without its text, once checked: a part holds only compressed bytes,
        so memory follows what crossed the network, not what it decompresses to."""
        self.text = b""
        return self


class Reader:
    """Whole streams, one after another from ``offset``, fetched in ranges of at least
    ``chunk`` bytes; bytes already fetched past a stream are kept for the next one."""

    def __init__(self, src: Ranges, offset: int, url: str) -> None:
        self.src, self.pos, self.url = src, offset, url
        self.buffer = b""

    def next(self, chunk: int = SMALL, stop: int | None = None, step: int = SMALL) -> Stream | None:
        """The stream at the current position, or None at ``stop`` or the file's end.
        Reads ``chunk`` bytes first, then ranges that double from ``step`` while the
        stream goes on, so that the last stream of a range costs little past its end.
        Decompresses in slices, within the limits on a page and a stream."""
        limit = self.src.size if stop is None else stop
        if self.pos >= limit:
            return None
        dec = bz2.BZ2Decompressor()
        cap = self.src.limits
        pages = PageGuard(cap.page, f"{self.url}: the stream at byte {self.pos}")
        parts, fed, size, grow = [], 0, 0, step
        while not dec.eof:
            data = b""
            if dec.needs_input:
                if fed == len(self.buffer):
                    self._more(chunk)
                    chunk, grow = grow, min(2 * grow, LARGE)  # it goes on: steps from ``step``
                data, fed = self.buffer[fed:], len(self.buffer)
            try:
                out = dec.decompress(data, max_length=LARGE)
            except OSError as e:
                raise self.bad(f"corrupt bz2 stream at byte {self.pos} ({e})") from None
            size += len(out)
            if size > cap.stream:
                raise DumpError(
                    f"{self.url}: the stream at byte {self.pos} decompresses to more than "
                    f"{cap.stream >> 20} MiB; dump.max_stream_mb sets the limit"
                )
            pages.feed(out)
            parts.append(out)
        used = fed - len(dec.unused_data)
        stream = Stream(self.pos, self.buffer[:used], b"".join(parts))
        self.buffer, self.pos = self.buffer[used:], self.pos + used
        return stream

    def _more(self, chunk: int) -> None:
        fetch_end = self.pos + len(self.buffer)
        if fetch_end >= self.src.size:
            raise self.bad(f"truncated bz2 stream at byte {self.pos} (the file ends inside it)")
        self.buffer += self.src.read(fetch_end, min(self.src.size, fetch_end + chunk))

    def bad(self, what: str) -> DumpError:
        """An error about the bytes from the current position, which are dropped."""
        note = self.src.forget(self.pos, self.pos + max(1, len(self.buffer)))
        return DumpError(f"{self.url}: {what}{note}")


def check_pages(stream: Stream, src: Ranges, url: str) -> Stream:
    """A stream of the dump must hold whole ``<page>`` elements, and at least one; the
    stream without its text if so (its bytes are dropped if not)."""
    text = stream.text
    opened, closed = text.count(b"<page>"), text.count(b"</page>")
    if not text.lstrip().startswith(b"<page>") or opened != closed or opened == 0:
        note = src.forget(stream.offset, stream.end)
        raise DumpError(
            f"{url}: the stream at byte {stream.offset} does not hold whole <page> elements "
            f"({opened} opened, {closed} closed){note}"
        )
    return stream.light()


def find_stream(src: Ranges, offset: int, url: str, typical: int = 0) -> int:
    """The first offset at or after ``offset`` where a bz2 stream of pages starts (or
    the file's size): a header found by scanning windows that double (from an eighth of
    a ``typical`` stream's size once one is known), confirmed by decompressing the
    stream (which a reader then takes from memory)."""
    step = max(SMALL, typical // 8)
    pos, window = offset, step  # windows double only while no stream size is known
    while pos < src.size:
        data = src.read(pos, min(src.size, pos + window + 9))
        for match in MAGIC.finditer(data):
            start = pos + match.start()
            if start >= pos + window:
                break
            # Ten bytes of header by chance in compressed data: about 2^-77 per position,
            # so a header that does not decompress is damage, and reported as such.
            first = max(SMALL, int(typical * 1.05) - (pos + len(data) - start))
            stream = Reader(src, start, url).next(first, step=step)
            if stream is not None and (
                stream.is_footer or stream.text.lstrip().startswith(b"<page>")
            ):
                return start
        pos += window
        window = window if typical else min(2 * window, LARGE)
    return src.size


@dataclass
class Part:
    streams: list[Stream] = field(default_factory=list)

    @property
    def ranges(self) -> list[list[int]]:
        """Maximal runs of consecutive bytes, as [first, last] (inclusive, like Range)."""
        out: list[list[int]] = []
        for s in sorted(self.streams, key=lambda s: s.offset):
            if out and out[-1][1] + 1 == s.offset:
                out[-1][1] = s.end - 1
            else:
                out.append([s.offset, s.end - 1])
        return out

    @property
    def compressed_bytes(self) -> int:
        return sum(len(s.data) for s in self.streams)


Counter = Callable[[list[Stream]], int]


def sample_part(
    src: Ranges, header: Stream, start: int, need: int, count: Counter, url: str
) -> Part:
    """Consecutive streams from ``start`` until ``count`` finds ``need`` characters in
    them; if the file ends first, streams before ``start`` are added, nearest first."""
    part, have, density = Part(), 0, None
    reader = Reader(src, start, url)
    with tqdm(total=need, unit=" chars", desc="sample streams", disable=None) as bar:
        while have < need:
            chunk = int((need - have) * (density or DENSITY) * 1.05)
            batch = _take(reader, max(chunk, SMALL), url)
            if not batch:
                break
            part.streams += batch
            found = count(batch)
            have += found
            bar.update(found)
            density = part.compressed_bytes / max(1, have)
        first = start
        while have < need and first > header.end:
            earlier = _stream_before(src, header, first, (need - have) * (density or 1.0), url)
            if earlier >= first:
                break
            batch = _streams(Reader(src, earlier, url), first, url)
            part.streams = batch + part.streams
            found = count(batch)
            have += found
            bar.update(found)
            first = earlier
    return part


def _stream_before(src: Ranges, header: Stream, first: int, need_bytes: float, url: str) -> int:
    """A stream start about ``need_bytes`` before ``first`` (the first page stream at most)."""
    back = int(need_bytes * 1.2) + SMALL
    while True:
        low = max(header.end, first - back)
        earlier = find_stream(src, low, url)
        if earlier < first or low == header.end:
            return earlier
        back *= 2


def _take(reader: Reader, budget: int, url: str) -> list[Stream]:
    """Whole streams covering about ``budget`` bytes from the reader's position."""
    out: list[Stream] = []
    end = reader.pos + budget
    while reader.pos < end:
        stream = reader.next(chunk=max(SMALL, end - reader.pos))
        if stream is None or stream.is_footer:
            break
        out.append(check_pages(stream, reader.src, url))
    return out


def _streams(reader: Reader, stop: int, url: str) -> list[Stream]:
    out = []
    while (stream := reader.next(max(SMALL, stop - reader.pos), stop)) is not None:
        out.append(check_pages(stream, reader.src, url))
    return out


def reference_part(
    src: Ranges, header: Stream, sample: Part, cfg: StreamsConfig, rng: random.Random, url: str
) -> Part:
    """``cfg.reference_streams`` streams none of the sample's, in runs of
    ``cfg.reference_run`` consecutive streams from seeded random byte offsets: the scan
    for a boundary (half a stream on average) is paid once per run."""
    taken = {s.offset for s in sample.streams}
    typical = sample.compressed_bytes // max(1, len(sample.streams))
    part = Part()
    with tqdm(total=cfg.reference_streams, desc="reference streams", disable=None) as bar:
        for _ in range(3 * cfg.reference_streams):
            if len(part.streams) >= cfg.reference_streams:
                break
            start = find_stream(src, rng.randrange(header.end, src.size), url, typical)
            reader = Reader(src, start, url)
            for _ in range(cfg.reference_run):
                if len(part.streams) >= cfg.reference_streams or reader.pos in taken:
                    break
                stream = reader.next(int(typical * 1.05), step=max(SMALL, typical // 8))
                if stream is None or stream.is_footer:
                    break
                taken.add(stream.offset)
                part.streams.append(check_pages(stream, src, url))
                bar.update()
    part.streams.sort(key=lambda s: s.offset)
    return part


def write_snapshot(path: Path, header: Stream, streams: list[Stream]) -> None:
    """A valid multistream dump: the header, ``streams`` byte for byte, a closing stream."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(header.data)
        for stream in streams:
            fh.write(stream.data)
        fh.write(FOOTER)


def text_counter(workdir: Path, header: Stream) -> Counter:
    """Characters of sentences in some streams, counted the way the sample stage reads
    them: wikiextractor (no template expansion: templates live elsewhere in the dump)
    on a small multistream file of those streams, then sentence segmentation."""
    from bloodbank.data.extraction import ExtractError, extract_dump
    from bloodbank.data.sampling import count_corpus, language_sentences

    def count(streams: list[Stream]) -> int:
        dump, text = workdir / "count.xml.bz2", workdir / "count.jsonl.gz"
        write_snapshot(dump, header, streams)
        try:
            extract_dump(dump, text, 1, False, desc="count text")
        except ExtractError:  # streams without article text (all redirects, say)
            return 0
        return count_corpus(language_sentences(text, 0)()).chars

    return count


@dataclass(frozen=True)
class Snapshot:
    path: Path
    manifest: dict


def fetch_streams(
    out: Path,
    wiki: str,
    date: str,
    *,
    mirror: str,
    cfg: StreamsConfig,
    algo: str,
    timeout: float,
    retries: int,
    backoff: float = 1.0,
    limits: Limits | None = None,
) -> Snapshot:
    """Fetch the streams the sample and the statistics need and write the snapshot;
    return it with its manifest (the caller writes it, after validating the snapshot).
    ``limits`` (dump.min_rate, max_page_mb, max_stream_mb; their defaults if None) bound
    the time of every request and the memory of every stream."""
    limits = limits or Limits.of()
    name = multistream_name(wiki, date)
    url = dump_url(mirror, wiki, date, name)
    listed = checksum_list(mirror, wiki, date, algo, timeout, rate=limits.rate)
    if name not in listed:
        raise DumpError(f"{listed['url']}: no checksum listed for {name}")
    wanted = (name, index_name(wiki, date))
    sums = {n: listed[n] for n in wanted if n in listed}
    size = published_size(mirror, wiki, date, name, timeout, rate=limits.rate)
    cache = out.with_name(out.name + ".ranges")
    whole: Path | None = None
    try:
        src: Ranges = HttpRanges(
            url,
            cache,
            timeout,
            retries,
            backoff,
            limits=limits,
            checksum=sums[name],
            listed_size=size,
        )
    except RangeNotSupported:
        if cfg.no_range == "error":
            raise
        whole = out.with_name(out.name + ".whole")
        download(url, whole, sums[name], algo, timeout, retries, backoff, rate=limits.rate)
        src = FileRanges(whole, limits)
    with tempfile.TemporaryDirectory(prefix="bloodbank-streams-") as tmp:
        header = Reader(src, 0, url).next()
        assert header is not None
        _check_header(header, wiki, url)
        rng = random.Random(f"streams:{wiki}:{date}:{cfg.seed}")
        drawn = rng.randrange(header.end, src.size)
        start = find_stream(src, drawn, url)
        count = text_counter(Path(tmp), header)
        need = int(cfg.text_chars * (1 + cfg.margin))
        sample = sample_part(src, header, start, need, count, url)
        if not sample.streams:
            raise DumpError(f"{url}: no stream of pages after the header")
        reference = reference_part(src, header, sample, cfg, rng, url)
    write_snapshot(out, header, sample.streams + reference.streams)
    manifest = {
        "source": "wikimedia-streams",
        "wiki": f"{wiki}wiki",
        "date": date,
        "url": url,
        "index_url": dump_url(mirror, wiki, date, index_name(wiki, date)),
        "file_bytes": src.size,
        "checksums": {"algorithm": algo, **sums},
        "start": {"draw": DRAW, "seed": cfg.seed, "drawn_byte": drawn, "stream": start},
        "parts": {
            "header": [[0, header.end - 1]],
            "sample": sample.ranges,
            "reference": reference.ranges,
        },
        "pages": {
            "sample": [i for s in sample.streams for i in s.page_ids()],
            "reference": [i for s in reference.streams for i in s.page_ids()],
        },
        "compressed_bytes": {
            "header": len(header.data),
            "sample": sample.compressed_bytes,
            "reference": reference.compressed_bytes,
        },
        "fetched_bytes": src.size if whole else src.fetched,
        "whole_file_downloaded": whole is not None,
    }
    if isinstance(src, HttpRanges):
        manifest["file_bytes_checked_by"] = src.size_check
        if src.final_url:
            manifest["redirected_to"] = src.final_url
    shutil.rmtree(cache, ignore_errors=True)
    if whole is not None:
        whole.unlink(missing_ok=True)
    return Snapshot(out, manifest)


def _check_header(header: Stream, wiki: str, url: str) -> None:
    if b"<siteinfo>" not in header.text or b"<mediawiki" not in header.text:
        raise DumpError(f"{url}: the first stream holds no <mediawiki><siteinfo> header")
    found = re.search(rb"<dbname>(.*?)</dbname>", header.text)
    if found and found.group(1).decode() != f"{wiki}wiki":
        raise DumpError(f"{url}: dump of {found.group(1).decode()!r}, expected '{wiki}wiki'")
