"""Sampling a language from the streams of a multistream dump, fetched by HTTP Range."""

import json
import random
import shutil

import pytest
from httpfixture import Mirror

from bloodbank.core.config import StreamsConfig
from bloodbank.data.dumps import DumpError, inspect_dump
from bloodbank.data.extraction import extract_dump
from bloodbank.data.sampling import language_sentences, write_sample
from bloodbank.data.streams import FOOTER, RangeNotSupported, fetch_streams
from bloodbank.data.synthetic.multistream import (
    filler_multistream,
    mediawiki_open,
    write_multistream,
)
from bloodbank.data.synthetic.wikidump import _siteinfo, iter_dump_xml

DATE = "20211101"


def world(tmp_path, articles: int = 1200, per_stream: int = 10):
    """The synthetic world's qaa, written as a multistream dump with 10 pages a stream."""
    pieces = list(iter_dump_xml("qaa", 0, articles, DATE))
    head = mediawiki_open("qaa") + _siteinfo("qaa")
    return write_multistream(tmp_path / "mirror", "qaa", DATE, head, pieces[2:-1], per_stream)


def serve(mirror: Mirror, dump) -> str:
    """Put the dump, its index and its checksum lists on the mirror; the dump's path."""
    for f in (dump.dump, dump.index, *dump.sums.values()):
        mirror.state.files[f"/qaawiki/{DATE}/{f.name}"] = f.read_bytes()
    return f"/qaawiki/{DATE}/{dump.dump.name}"


def fetch(mirror: Mirror, out_dir, **cfg):
    settings = {"text_chars": 40_000, "reference_streams": 4, "margin": 0.1} | cfg
    out = out_dir / "qaawiki.xml.bz2"
    cfg = StreamsConfig(**settings)
    return fetch_streams(
        out,
        "qaa",
        DATE,
        mirror=mirror.url,
        cfg=cfg,
        algo="sha1",
        timeout=5,
        retries=2,
        backoff=0.01,
    )


@pytest.fixture
def dump(tmp_path):
    return world(tmp_path)


def test_snapshot_is_a_valid_multistream_with_a_manifest_of_what_was_fetched(tmp_path, dump):
    with Mirror() as m:
        path = serve(m, dump)
        snap = fetch(m, tmp_path / "a")
        sent = m.state.sent[path]
    info = inspect_dump(snap.path, "qaawiki")
    man = snap.manifest
    assert info.pages == len(man["pages"]["sample"]) + len(man["pages"]["reference"])
    assert man["file_bytes"] == dump.dump.stat().st_size
    assert man["checksums"][dump.dump.name] == dump.sums["sha1"].read_text().split()[0]
    assert man["checksums"][dump.index.name]  # the index's entry, from the same list
    assert man["start"]["stream"] in dump.stream_starts
    starts = set(dump.stream_starts)
    for part in ("sample", "reference"):
        for first, last in man["parts"][part]:
            assert first in starts and last + 1 in starts  # whole streams only
    assert not set(man["pages"]["sample"]) & set(man["pages"]["reference"])
    # the snapshot is exactly the listed ranges of the mirror's file, plus a footer
    whole = dump.dump.read_bytes()
    ranges = [r for p in ("header", "sample", "reference") for r in man["parts"][p]]
    assert snap.path.read_bytes() == b"".join(whole[a : b + 1] for a, b in ranges) + FOOTER
    assert man["fetched_bytes"] <= sent <= man["fetched_bytes"] + 1  # + the size probe
    assert sent < len(whole) / 2


def test_the_sample_part_holds_the_text_and_starts_at_a_seeded_stream(tmp_path, dump):
    with Mirror() as m:
        serve(m, dump)
        a = fetch(m, tmp_path / "a")
        b = fetch(m, tmp_path / "b")
        c = fetch(m, tmp_path / "c", seed=1)
    assert a.path.read_bytes() == b.path.read_bytes() and a.manifest == b.manifest
    assert c.manifest["start"] != a.manifest["start"]
    text = tmp_path / "a.jsonl.gz"
    extract_dump(a.path, text, 1, False)
    ids = {str(i) for i in a.manifest["pages"]["sample"]}
    chars = sum(len(s) for s in language_sentences(text, 0, ids)())
    assert chars >= 40_000 * 1.1


def test_given_the_same_start_the_sample_equals_the_whole_dumps(tmp_path, dump):
    """The whole dump extracted, read from the sample part's first page on, gives the
    same train and test split as the streams snapshot's sample part."""
    with Mirror() as m:
        serve(m, dump)
        snap = fetch(m, tmp_path / "s")
    whole_text, part_text = tmp_path / "whole.jsonl.gz", tmp_path / "part.jsonl.gz"
    extract_dump(dump.dump, whole_text, 1, False)
    extract_dump(snap.path, part_text, 1, False)
    first = str(snap.manifest["pages"]["sample"][0])
    from bloodbank.data.extraction import iter_documents

    order = [d.id for d in iter_documents(whole_text)]
    from_start = set(order[order.index(first) :])
    part = {str(i) for i in snap.manifest["pages"]["sample"]}
    outs = {}
    for name, text, pages in (("whole", whole_text, from_start), ("part", part_text, part)):
        train, test = tmp_path / f"{name}.train", tmp_path / f"{name}.test"
        write_sample(
            language_sentences(text, 10, pages),
            train,
            test,
            chars=30_000,
            test_chars=6_000,
            rng=None,
        )
        outs[name] = (train.read_text(), test.read_text())
    assert outs["whole"] == outs["part"] and len(outs["part"][0]) >= 30_000


def test_a_start_near_the_end_grows_the_part_backwards(tmp_path, dump):
    """Seeds until one draws a start in the dump's last tenth: the part then ends at the
    last page and still holds the text."""
    size = dump.dump.stat().st_size
    with Mirror() as m:
        serve(m, dump)
        for seed in range(60):
            rng = random.Random(f"streams:qaa:{DATE}:{seed}")
            if rng.randrange(dump.stream_starts[1], size) > 0.93 * size:
                break
        else:
            pytest.fail("no seed drew a start near the end")
        snap = fetch(m, tmp_path / "e", seed=seed, reference_streams=1)
    last_pages_end = dump.stream_starts[-1] - 1
    assert snap.manifest["parts"]["sample"][-1][1] == last_pages_end
    assert snap.manifest["parts"]["sample"][0][0] < snap.manifest["start"]["stream"]


def test_a_mirror_ignoring_range_is_an_error_or_a_whole_download(tmp_path, dump):
    with Mirror() as m:
        serve(m, dump)
        expected = fetch(m, tmp_path / "ranged")
        m.state.ignore_range = True
        with pytest.raises(RangeNotSupported, match="ignores HTTP Range") as err:
            fetch(m, tmp_path / "error")
        assert "\n" not in str(err.value) and m.url in str(err.value)
        whole = fetch(m, tmp_path / "whole", no_range="whole")
    assert whole.path.read_bytes() == expected.path.read_bytes()
    assert whole.manifest["whole_file_downloaded"] is True
    assert whole.manifest["pages"] == expected.manifest["pages"]
    assert not list((tmp_path / "whole").glob("*.whole*"))  # the whole file is not kept


def test_a_dropped_connection_resumes_and_an_interrupted_run_refetches_nothing(tmp_path, dump):
    with Mirror() as m:
        path = serve(m, dump)
        clean = fetch(m, tmp_path / "clean")
        clean_sent = m.state.sent.pop(path)
        m.state.drop_after[path] = 5_000
        m.state.drops_left = 3
        dropped = fetch(m, tmp_path / "dropped")
        assert dropped.path.read_bytes() == clean.path.read_bytes()
        m.state.sent.clear()
        m.state.requests.clear()
        m.state.down_after = 12  # the mirror goes away midway: the run stops
        with pytest.raises(DumpError, match="503"):
            fetch(m, tmp_path / "again")
        assert not (tmp_path / "again" / "qaawiki.xml.bz2").exists()
        assert list((tmp_path / "again" / "qaawiki.xml.bz2.ranges").iterdir())
        before = m.state.sent.pop(path)
        m.state.down_after = None
        again = fetch(m, tmp_path / "again")
        after = m.state.sent[path]
    assert again.path.read_bytes() == clean.path.read_bytes()
    assert before > 0 and before + after <= clean_sent + 64  # nothing fetched twice
    assert not (tmp_path / "again" / "qaawiki.xml.bz2.ranges").exists()


def test_a_truncated_or_corrupt_stream_is_named(tmp_path, dump):
    data = dump.dump.read_bytes()
    cut = dump.stream_starts[len(dump.stream_starts) // 2] + 200  # inside a stream
    with Mirror() as m:
        path = serve(m, dump)
        m.state.files[path] = data[:cut]
        with pytest.raises(DumpError, match="truncated bz2 stream|corrupt bz2"):
            fetch(m, tmp_path / "t", text_chars=10_000_000)
        broken = bytearray(data)
        for start in dump.stream_starts[1:-1]:
            broken[start + 60 : start + 80] = b"\x00" * 20  # every stream's first block
        m.state.files[path] = bytes(broken)
        with pytest.raises(DumpError, match="corrupt bz2|whole <page>"):
            fetch(m, tmp_path / "c")
    assert not (tmp_path / "t" / "qaawiki.xml.bz2").exists()


def test_a_stream_that_cuts_a_page_is_refused(tmp_path):
    pages = list(iter_dump_xml("qaa", 0, 200, DATE))[2:-1]
    half = pages[34][: len(pages[34]) // 2]
    pieces = [*pages[:34], half, pages[34][len(half) :], *pages[35:]]  # 5th stream ends in it
    bad = write_multistream(
        tmp_path / "mirror", "qaa", DATE, mediawiki_open("qaa") + _siteinfo("qaa"), pieces, 7
    )
    with Mirror() as m:
        serve(m, bad)
        with pytest.raises(DumpError, match="whole <page> elements"):
            fetch(m, tmp_path / "x", text_chars=10_000_000, reference_streams=1)


@pytest.mark.parametrize(
    ("wiki", "date"), [("qaa", "20990101"), ("qzz", DATE)], ids=["wrong date", "unknown wiki"]
)
def test_a_wrong_date_or_unknown_wiki_is_one_line_naming_the_url(tmp_path, dump, wiki, date):
    with Mirror() as m:
        serve(m, dump)
        cfg = StreamsConfig(text_chars=1000)
        with pytest.raises(DumpError) as err:
            fetch_streams(
                tmp_path / "x.xml.bz2",
                wiki,
                date,
                mirror=m.url,
                cfg=cfg,
                algo="sha1",
                timeout=5,
                retries=0,
            )
    message = str(err.value)
    assert "\n" not in message and "404" in message and f"{m.url}/{wiki}wiki/{date}/" in message


@pytest.mark.slow
def test_on_a_50_mb_dump_the_bytes_fetched_follow_the_sample_not_the_dump(tmp_path):
    big = filler_multistream(tmp_path / "mirror", "qaa", DATE, pages=38_000)
    assert big.dump.stat().st_size > 50e6
    with Mirror() as m:
        path = serve(m, big)
        snap = fetch(m, tmp_path / "s", text_chars=1_000_000, reference_streams=8)
        sent = m.state.sent[path]
    man = snap.manifest
    parts = man["compressed_bytes"]
    assert sent <= 2 * parts["sample"] + parts["reference"] + 4 * parts["header"] + (1 << 17)
    assert sent < 0.05 * big.dump.stat().st_size
    assert inspect_dump(snap.path, "qaawiki").pages == len(man["pages"]["sample"]) + len(
        man["pages"]["reference"]
    )
    assert json.loads(json.dumps(man)) == man


@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_dump_extract_sample_tokenizer_stats_stages_on_a_streams_snapshot(tmp_path):
    """The data stages as DVC runs them, for a real language from a local mirror: the
    sample comes from the sample part, the statistics' corpus from the reference part."""
    import subprocess
    import sys

    from conftest import ROOT, tiny_params, write_params

    pages = list(iter_dump_xml("qaa", 0, 1200, DATE))[2:-1]
    head = mediawiki_open("fi") + _siteinfo("fi")
    dump = write_multistream(tmp_path / "mirror", "fi", DATE, head, pages, 10)
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stages", repo / "stages")
    with Mirror() as m:
        for f in (dump.dump, dump.index, *dump.sums.values()):
            m.state.files[f"/fiwiki/{DATE}/{f.name}"] = f.read_bytes()
        params = tiny_params(
            languages=["fi"],
            studied=["fi"],
            dump={
                "source": "wikimedia-streams",
                "mirror": m.url,
                "streams": {"text_chars": 16_000, "reference_streams": 6, "reference_run": 2},
            },
            extract={"expand_templates": False},
            runtime={"tracking": {"enabled": False}},
        )
        write_params(repo, params)
        for stage in ("dump", "extract", "sample", "tokenizer", "stats"):
            args = [] if stage == "tokenizer" else ["fi"]
            proc = subprocess.run(
                [sys.executable, "-P", f"stages/{stage}.py", *args],
                cwd=repo,
                capture_output=True,
                text=True,
            )
            assert proc.returncode == 0, proc.stderr
    manifest = json.loads((repo / f"data/dumps/fiwiki-{DATE}-manifest.json").read_text())
    assert manifest["source"] == "wikimedia-streams" and len(manifest["parts"]["reference"]) >= 1
    train = (repo / "data/samples/train/fi.txt").read_text()
    assert 12_000 <= len(train) < 14_000
    from bloodbank.data.extraction import iter_documents

    docs = {d.id: d.text for d in iter_documents(repo / "data/text/fi.jsonl.gz")}
    first = str(manifest["pages"]["sample"][0])
    assert train.split("\n")[0] in docs[first]  # the sample starts at the part's first page
    stats = json.loads((repo / "metrics/samples/fi.json").read_text())
    reference_chars = sum(
        len(docs[str(i)]) for i in manifest["pages"]["reference"] if str(i) in docs
    )
    assert 0 < stats["corpus_characters"] <= reference_chars
