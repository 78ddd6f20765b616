"""Wikipedia dump snapshots: naming, validation, and the three sources.

``inspect_dump`` streams a dump once and turns every way it can be broken
(corrupt or truncated bz2, not UTF-8, not MediaWiki XML, empty, wrong wiki)
into a ``DumpError`` whose message names the file and the cause.
"""

from __future__ import annotations

import bz2
import codecs
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError, XMLPullParser

import requests
from tqdm import tqdm

from bloodbank.core.config import DumpConfig
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path
from bloodbank.core.paths import dump_filename
from bloodbank.data import http

CHUNK = 1 << 20
MIB = 1 << 20
KIB = 1 << 10
HEAD_LIMIT = 4 << 20  # bytes of XML parsed in full before the streaming checks take over


class DumpError(BloodbankError, RuntimeError):
    """A dump is unusable; the message is one line naming the file and the cause."""


@dataclass(frozen=True)
class Limits:
    """What a mirror may cost: each request's slowest rate, each page's and each bz2
    stream's decompressed size (dump.min_rate, dump.max_page_mb, dump.max_stream_mb)."""

    rate: float  # bytes a second
    page: int  # bytes of XML
    stream: int  # bytes of XML

    @classmethod
    def of(cls, cfg: DumpConfig | None = None) -> Limits:
        cfg = cfg or DumpConfig()
        return cls(cfg.min_rate * KIB, int(cfg.max_page_mb * MIB), int(cfg.max_stream_mb * MIB))


@dataclass(frozen=True)
class DumpInfo:
    path: Path
    dbname: str
    pages: int
    compressed_bytes: int
    xml_bytes: int


def _iter_bz2(path: Path):
    """Decompressed chunks of a (possibly multistream) bz2 file, each at most ``CHUNK``
    bytes however well the input compresses (a few KB of bz2 can hold gigabytes)."""
    with path.open("rb") as fh:
        head = fh.read(3)
        if not head:
            raise DumpError(f"{path}: empty file")
        if head != b"BZh":
            raise DumpError(f"{path}: not bz2-compressed (Wikimedia dumps are .xml.bz2)")
        fh.seek(0)
        dec, pending, fed = bz2.BZ2Decompressor(), b"", False
        while True:
            if dec.eof:  # the next stream of a multistream dump
                pending = dec.unused_data + pending
                dec, fed = bz2.BZ2Decompressor(), False
            if dec.needs_input and not pending:
                pending = fh.read(CHUNK)
                if not pending:
                    break
            data = b""
            if dec.needs_input:
                data, pending, fed = pending, b"", True
            try:
                out = dec.decompress(data, max_length=CHUNK)
            except OSError as e:
                raise DumpError(f"{path}: corrupt bz2 data ({e})") from None
            if out:
                yield out
        if fed and not dec.eof:
            raise DumpError(f"{path}: truncated bz2 (compressed stream ends early)")


class PageGuard:
    """Refuses a page of more than ``limit`` bytes of XML as the text streams past: the
    bytes since the last ``<page>`` (or since the start) are counted, never held."""

    def __init__(self, limit: int, where: str) -> None:
        self.limit, self.where = limit, where
        self.current, self.seen, self.tail = 0, 0, b""

    def feed(self, text: bytes) -> None:
        window = self.tail + text
        at = window.rfind(b"<page>")
        self.current = len(window) - at if at >= 0 else self.current + len(text)
        self.seen += len(text)
        self.tail = window[-5:]
        if self.current > self.limit:
            start = self.seen - self.current
            raise DumpError(
                f"{self.where}: a page of more than {self.limit / MIB:g} MiB of XML "
                f"(from byte {max(0, start)} of the decompressed text); "
                "dump.max_page_mb sets the limit"
            )


def _check_not_utf16(path: Path, first: bytes) -> None:
    if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in first[:200]:
        raise DumpError(f"{path}: not UTF-8 (looks like UTF-16); Wikimedia dumps are UTF-8")


class _HeadParser:
    """Parses the first megabytes of a dump as XML: root element, siteinfo, pages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parser = XMLPullParser(events=("start", "end"))
        self.root: str | None = None
        self.dbname: str | None = None

    def feed(self, text: str) -> None:
        try:
            self.parser.feed(text)
            for event, elem in self.parser.read_events():
                tag = elem.tag.rsplit("}", 1)[-1]
                if self.root is None:
                    self.root = tag
                    if tag != "mediawiki":
                        raise DumpError(
                            f"{self.path}: not a MediaWiki XML export (root element <{tag}>)"
                        )
                if event == "end" and tag == "dbname":
                    self.dbname = (elem.text or "").strip()
                elif event == "end" and tag == "page":
                    elem.clear()
        except ParseError as e:
            raise DumpError(f"{self.path}: not a MediaWiki XML export ({e})") from None


class _TagCounter:
    """Counts ``<page>`` and ``</page>`` over the whole stream and keeps its last bytes:
    a dump whose bz2 is complete but whose XML was cut (a page left open, no closing
    ``</mediawiki>``) is truncated, not finished work."""

    def __init__(self) -> None:
        self.opened = self.closed = 0
        self.tail = b""

    def feed(self, raw: bytes) -> None:
        window = self.tail + raw  # a tag split between two chunks is counted once
        self.opened += window.count(b"<page>") - self.tail.count(b"<page>")
        self.closed += window.count(b"</page>") - self.tail.count(b"</page>")
        self.tail = window[-64:]

    def check_complete(self, path: Path) -> None:
        if self.opened != self.closed:
            raise DumpError(
                f"{path}: truncated XML: {self.opened} <page> opened, {self.closed} closed"
            )
        if not self.tail.rstrip().endswith(b"</mediawiki>"):
            raise DumpError(f"{path}: truncated XML: it ends before </mediawiki>")


def inspect_dump(
    path: str | Path, expected_dbname: str | None = None, *, max_page_mb: float | None = None
) -> DumpInfo:
    """Validate a dump end to end, streaming, and return what it holds.

    The head is parsed as XML; beyond ``HEAD_LIMIT`` the rest is only
    decompressed, decoded and counted, which keeps a 20 GB dump affordable. Memory
    stays bounded whatever the file holds: chunks are small, and a page over
    ``max_page_mb`` (by default dump.max_page_mb's default) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise DumpError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}")
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    head = _HeadParser(path)
    tags = _TagCounter()
    limit = Limits.of().page if max_page_mb is None else int(max_page_mb * MIB)
    pages = PageGuard(limit, str(path))
    xml_bytes = 0
    for raw in _iter_bz2(path):
        pages.feed(raw)
        if xml_bytes == 0:
            _check_not_utf16(path, raw)
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as e:
            raise DumpError(
                f"{path}: not UTF-8 (bad byte at offset {xml_bytes + e.start})"
            ) from None
        if xml_bytes < HEAD_LIMIT:
            head.feed(text)
        tags.feed(raw)
        xml_bytes += len(raw)
    if xml_bytes == 0:
        raise DumpError(f"{path}: empty dump (no XML inside the bz2)")
    if head.dbname is None:
        raise DumpError(f"{path}: not a MediaWiki XML export (no <siteinfo><dbname>)")
    tags.check_complete(path)
    pages = tags.opened
    if pages == 0:
        raise DumpError(f"{path}: empty dump (no <page> elements)")
    if expected_dbname and head.dbname != expected_dbname:
        raise DumpError(f"{path}: dump of {head.dbname!r}, expected {expected_dbname!r}")
    return DumpInfo(path, head.dbname, pages, path.stat().st_size, xml_bytes)


def fetch_synthetic(out: Path, code: str, world_seed: int, articles: int, date: str) -> Path:
    from bloodbank.data.synthetic.wikidump import write_dump

    return write_dump(out, code, world_seed, articles, date)


def fetch_local(
    out: Path, pattern: str, wiki: str, date: str, *, max_page_mb: float | None = None
) -> Path:
    src = Path(pattern.format(wiki=wiki, date=date, code=wiki)).expanduser()
    if not src.is_file():
        raise DumpError(f"{src}: no such dump (dump.local_pattern = {pattern!r})")
    # refuse a bad file before copying it into the cache
    inspect_dump(src, f"{wiki}wiki", max_page_mb=max_page_mb)
    with atomic_path(out) as tmp:
        shutil.copyfile(src, tmp)
    return out


def dump_url(mirror: str, wiki: str, date: str, name: str) -> str:
    return f"{mirror.rstrip('/')}/{wiki}wiki/{date}/{name}"


def multistream_name(wiki: str, date: str) -> str:
    return f"{wiki}wiki-{date}-pages-articles-multistream.xml.bz2"


def index_name(wiki: str, date: str) -> str:
    return f"{wiki}wiki-{date}-pages-articles-multistream-index.txt.bz2"


SMALL_FILE = 4 * MIB  # a checksum list or dumpstatus.json: kilobytes, in truth


def fetch_small(url: str, timeout: float, rate: float | None = None) -> bytes | None:
    """A small published file (at most ``SMALL_FILE``), or None when the mirror has none
    (HTTP 404); read to an overall deadline. Other failures raise ``requests``' errors."""
    rate = rate or Limits.of().rate
    with http.get(None, url, headers=None, timeout=timeout) as resp:
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        length = resp.headers.get("Content-Length", "")
        size = min(int(length), SMALL_FILE) if length.isdigit() else SMALL_FILE
        data = b"".join(http.body(resp, http.deadline(timeout, size, rate), limit=SMALL_FILE))
        if resp.raw.read1(1):
            raise DumpError(f"{url}: more than {SMALL_FILE // MIB} MiB; not a published list")
        return data


def checksum_list(
    mirror: str, wiki: str, date: str, algo: str, timeout: float, *, rate: float | None = None
) -> dict:
    """The snapshot's published ``<algo>sums.txt``: file name -> digest, and its URL
    under ``"url"``. A missing list (HTTP 404) means no such wiki or date."""
    url = dump_url(mirror, wiki, date, f"{wiki}wiki-{date}-{algo}sums.txt")
    try:
        data = fetch_small(url, timeout, rate)
    except requests.RequestException as e:
        raise DumpError(f"{url}: cannot fetch the checksum list ({e})") from None
    if data is None:
        raise DumpError(f"{url}: cannot fetch the checksum list (HTTP 404: no such wiki or date)")
    sums = {"url": url}
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1]] = parts[0].lower()
    return sums


def published_size(
    mirror: str, wiki: str, date: str, name: str, timeout: float, *, rate: float | None = None
) -> int | None:
    """``name``'s size in bytes as the snapshot's ``dumpstatus.json`` gives it, or None
    where the mirror has no such file or it does not list ``name``."""
    url = dump_url(mirror, wiki, date, "dumpstatus.json")
    try:
        data = fetch_small(url, timeout, rate)
        status = json.loads(data) if data is not None else {}
    except (requests.RequestException, ValueError):
        return None  # an optional cross-check: a mirror without it is not at fault
    jobs = status.get("jobs", {}) if isinstance(status, dict) else {}
    for job in jobs.values() if isinstance(jobs, dict) else []:
        files = job.get("files", {}) if isinstance(job, dict) else {}
        entry = files.get(name) if isinstance(files, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("size"), int):
            return entry["size"]
    return None


def published_checksum(
    mirror: str,
    wiki: str,
    date: str,
    algo: str,
    timeout: float,
    name: str | None = None,
    *,
    rate: float | None = None,
) -> str:
    """A file's checksum (by default the dump's) from the snapshot's published list."""
    name = name or dump_filename(wiki, date)
    sums = checksum_list(mirror, wiki, date, algo, timeout, rate=rate)
    if name not in sums:
        raise DumpError(f"{sums['url']}: no checksum listed for {name}")
    return sums[name]


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    out: Path,
    expected: str,
    algo: str,
    timeout: float = 60.0,
    retries: int = 5,
    backoff: float = 1.0,
    *,
    rate: float | None = None,
) -> Path:
    """Download ``url`` to ``out``, resuming a ``.part`` file, and verify its checksum.

    The partial file lives next to ``out`` under another name, so an interrupted
    run never leaves something DVC could take for the finished snapshot, and the
    next run continues where it stopped (HTTP Range). Each request ends by its
    deadline (``timeout`` plus its size at ``rate`` bytes a second); the next resumes.
    """
    part = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = rate or Limits.of().rate
    for attempt in range(retries + 1):
        try:
            if _download_once(url, part, timeout, rate):
                break
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            IncompleteDownload,
        ) as e:
            if attempt == retries:
                have = part.stat().st_size if part.exists() else 0
                raise DumpError(
                    f"{url}: download failed after {retries + 1} attempts ({e}); "
                    f"rerun to resume from byte {have}"
                ) from None
            time.sleep(backoff * 2**attempt)
        except requests.RequestException as e:  # HTTP errors, redirects away from http(s)
            raise DumpError(f"{url}: {e}") from None
    actual = file_digest(part, algo) if expected else ""
    if actual != expected:  # an empty ``expected`` skips the check
        part.unlink()
        raise DumpError(
            f"{url}: {algo} mismatch (published {expected}, downloaded {actual}); "
            "the partial file was removed"
        )
    part.replace(out)
    return out


class IncompleteDownload(OSError):
    pass


def _download_once(url: str, part: Path, timeout: float, rate: float) -> bool:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with http.get(None, url, headers=headers, timeout=timeout) as resp:
        if resp.status_code == 416:  # nothing left to fetch
            return True
        resp.raise_for_status()
        if resp.status_code != 206:
            have = 0  # the server ignored Range: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        until = http.deadline(timeout, int(length) if length is not None else SMALL_FILE, rate)
        mode = "ab" if have else "wb"
        with (
            part.open(mode) as fh,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=part.name.removesuffix(".part"),
                disable=None,
            ) as bar,
        ):
            for chunk in http.body(resp, until):
                fh.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:
        raise IncompleteDownload(f"got {size} of {total} bytes")
    return True


def fetch_wikimedia(out: Path, wiki: str, cfg: DumpConfig) -> Path:
    rate = Limits.of(cfg).rate
    expected = published_checksum(cfg.mirror, wiki, cfg.date, cfg.checksum, cfg.timeout, rate=rate)
    url = dump_url(cfg.mirror, wiki, cfg.date, dump_filename(wiki, cfg.date))
    return download(url, out, expected, cfg.checksum, cfg.timeout, cfg.retries, rate=rate)
