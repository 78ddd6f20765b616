"""Plain text from a dump, with wikiextractor (the PyPI package) doing the cleaning.

wikiextractor streams the dump and writes JSON documents to stdout; we stream
those into one gzip'd JSONL file per language, so memory stays bounded for any
dump size. The gzip header carries no name or time, so the bytes repeat.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path


class ExtractError(BloodbankError, RuntimeError):
    pass


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str


def wikiextractor_command(dump: Path, processes: int, expand_templates: bool) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "wikiextractor.WikiExtractor",
        str(dump),
        "--json",
        "-o",
        "-",
        "--processes",
        str(processes),
        "--quiet",
    ]
    if not expand_templates:
        cmd.append("--no-templates")
    return cmd


def body_text(doc: dict) -> str:
    """The article text without the title line wikiextractor puts first."""
    text = doc.get("text", "")
    title = doc.get("title", "")
    first, _, rest = text.partition("\n")
    return rest if first.strip() == title.strip() else text


def extract_dump(
    dump: Path,
    out: Path,
    processes: int = 1,
    expand_templates: bool = True,
    desc: str | None = None,
) -> int:
    """Extract ``dump`` into ``out`` (JSONL.gz); return the number of documents kept."""
    cmd = wikiextractor_command(dump, processes, expand_templates)
    kept = 0
    with (
        atomic_path(out) as tmp,
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=3) as gz,
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
        ) as proc,
        tqdm(desc=desc or f"extract {dump.name}", unit=" docs", disable=None) as bar,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            doc = json.loads(line)
            text = body_text(doc).strip()
            if not text:
                continue
            record = {"id": doc["id"], "title": doc["title"], "text": text}
            gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            kept += 1
            bar.update()
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0:
            last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
            raise ExtractError(f"{dump}: wikiextractor failed (exit {proc.returncode}): {last}")
    if kept == 0:
        out.unlink()
        raise ExtractError(f"{dump}: wikiextractor found no article text")
    return kept


def iter_documents(path: Path) -> Iterator[Document]:
    """Stream the documents of an extracted file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            yield Document(d["id"], d["title"], d["text"])
