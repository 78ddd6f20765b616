"""Bytes and time to a language's sample: the streams of a multistream dump (Range) against
the whole dump, on synthetic multistream dumps of about 50 and 100 MB served from
127.0.0.1, and projected to the study's languages.

Both paths end with the same thing, a sample file of N characters:

- whole: download the whole dump (checked against its published sha1), extract all of
  it with wikiextractor, sample (the `dump.source: wikimedia` path);
- streams: fetch the header, the sample part and the reference streams by Range
  (`dump.source: wikimedia-streams`), extract the snapshot, sample its sample part.

The mirror is local, so the download itself is nearly free here; the wall times compare
the work done on the bytes (decompression, extraction), and the bytes fetched are what a
real mirror would send. Run it alone: timings on a shared 2-core machine are noisy.

    python bench/bench_streams.py               # about 10 minutes on 2 cores
    python bench/bench_streams.py --sizes 50     # one dump
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from httpfixture import Mirror  # noqa: E402

from bloodbank.core.config import StreamsConfig  # noqa: E402
from bloodbank.core.languages import REGISTRY  # noqa: E402
from bloodbank.data.dumps import (  # noqa: E402
    download,
    dump_url,
    multistream_name,
)
from bloodbank.data.extraction import extract_dump  # noqa: E402
from bloodbank.data.sampling import language_sentences, write_sample  # noqa: E402
from bloodbank.data.streams import fetch_streams  # noqa: E402
from bloodbank.data.synthetic.multistream import filler_multistream  # noqa: E402

DATE = "20211101"
PAGES_PER_MB = 740  # filler pages per MB of bz2 (measured: 2,000 pages, 2.71 MB)
# Projection: bytes of bz2 dump per character of Wikipedia text, from English (the issue:
# "over 20 GB" for enwiki-20211101 pages-articles; Table 1: 14,433 M characters), and
# the compressed size of one stream of 100 pages (English: about 20 GB over 21 M pages).
BYTES_PER_CHAR = 20e9 / 14_433e6
STREAM_BYTES = 20e9 / 21e6 * 100


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            bf16 = "avx512_bf16" in Path("/proc/cpuinfo").read_text()
            return f"{line.split(':', 1)[1].strip()}, {'' if bf16 else 'no '}AVX512-BF16"
    return platform.processor() or "unknown CPU"


def sample(text: Path, out: Path, chars: int, pages: set[str] | None) -> int:
    import random

    rng = None if pages is not None else random.Random("bench")
    res = write_sample(
        language_sentences(text, 10, pages),
        out / "train",
        out / "test",
        chars=chars,
        test_chars=chars // 10,
        rng=rng,
    )
    return res.train_chars


def whole_path(mirror: Mirror, work: Path, sums: dict, chars: int) -> tuple[float, int]:
    t = time.perf_counter()
    name = multistream_name("qaa", DATE)
    dump = work / "whole.xml.bz2"
    download(dump_url(mirror.url, "qaa", DATE, name), dump, sums[name], "sha1")
    extract_dump(dump, work / "whole.jsonl.gz", 1, False, desc="extract whole")
    sample(work / "whole.jsonl.gz", work, chars, None)
    return time.perf_counter() - t, dump.stat().st_size


def streams_path(mirror: Mirror, work: Path, chars: int) -> tuple[float, dict]:
    t = time.perf_counter()
    cfg = StreamsConfig(text_chars=int(chars * 1.1), reference_streams=32)
    snap = fetch_streams(
        work / "part.xml.bz2",
        "qaa",
        DATE,
        mirror=mirror.url,
        cfg=cfg,
        algo="sha1",
        timeout=60,
        retries=5,
    )
    extract_dump(snap.path, work / "part.jsonl.gz", 1, False, desc="extract snapshot")
    pages = {str(i) for i in snap.manifest["pages"]["sample"]}
    sample(work / "part.jsonl.gz", work, chars, pages)
    return time.perf_counter() - t, snap.manifest


def measure(size_mb: int, chars: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dump = filler_multistream(work / "mirror", "qaa", DATE, pages=size_mb * PAGES_PER_MB)
        size = dump.dump.stat().st_size
        sums = {}
        for line in dump.sums["sha1"].read_text().splitlines():
            digest, name = line.split()
            sums[name] = digest
        with Mirror() as mirror:
            for f in (dump.dump, dump.index, *dump.sums.values()):
                mirror.state.files[f"/qaawiki/{DATE}/{f.name}"] = f.read_bytes()
            path = f"/qaawiki/{DATE}/{dump.dump.name}"
            (work / "s").mkdir()
            t_streams, manifest = streams_path(mirror, work / "s", chars)
            sent_streams = mirror.state.sent[path]
            mirror.state.sent.clear()
            (work / "w").mkdir()
            t_whole, _ = whole_path(mirror, work / "w", sums, chars)
            sent_whole = mirror.state.sent[path]
    parts = manifest["compressed_bytes"]
    bound = 2 * parts["sample"] + parts["reference"]
    print(f"\n{size / 1e6:.1f} MB multistream dump, sample {chars:,} + test {chars // 10:,} chars")
    print(f"  whole dump: {sent_whole / 1e6:8.2f} MB fetched  {t_whole:7.1f} s")
    print(
        f"  streams:    {sent_streams / 1e6:8.2f} MB fetched  {t_streams:7.1f} s   "
        f"({sent_streams / size:.2%} of the dump; {t_whole / t_streams:.1f}x faster)"
    )
    print(
        f"  streams holding the sample+test: {parts['sample'] / 1e6:.2f} MB, reference "
        f"streams: {parts['reference'] / 1e6:.2f} MB, header {parts['header']:,} B; "
        f"fetched / (2 x sample part + reference) = {sent_streams / bound:.2f}"
    )


def projection(chars: int, references: int) -> None:
    """The study's languages: bytes a whole dump costs against what streams fetch."""
    studied = [(c, lang.wiki_mchars) for c, lang in REGISTRY.items() if lang.wiki_mchars]
    per_lang = chars * 1.1 * 1.1 * BYTES_PER_CHAR + references * STREAM_BYTES * (1 + 0.5 / 4)
    whole = sum(m * 1e6 * BYTES_PER_CHAR for _, m in studied)
    streams = sum(min(per_lang, m * 1e6 * BYTES_PER_CHAR) for _, m in studied)
    print(
        f"\nprojection, the {len(studied)} languages of Table 1 (the 19 tokenizer-only "
        "languages have no size there), assuming "
        f"{BYTES_PER_CHAR:.2f} bytes of bz2 per character and {STREAM_BYTES / 1e3:.0f} KB "
        f"per stream:\n  whole dumps {whole / 1e9:.1f} GB; streams {streams / 1e9:.2f} GB "
        f"({streams / whole:.2%}; per language at most {per_lang / 1e6:.0f} MB: sample "
        f"{chars / 1e6:.0f}M + test 10%, margin 10%, {references} reference streams)"
    )
    big = sorted(studied, key=lambda x: -x[1])[:3]
    for code, m in big:
        whole_gb = m * 1e6 * BYTES_PER_CHAR / 1e9
        print(f"  {code}: whole {whole_gb:.1f} GB, streams {per_lang / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100], help="dump MB")
    parser.add_argument("--chars", type=int, default=1_000_000, help="sample characters")
    args = parser.parse_args()
    print(f"machine: {cpu()}")
    for size in args.sizes:
        measure(size, args.chars)
    projection(10_000_000, 32)


if __name__ == "__main__":
    main()
