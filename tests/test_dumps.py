import bz2
import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, tiny_params, write_params
from httpfixture import Mirror

from bloodbank.core.config import DumpConfig, SyntheticConfig
from bloodbank.data.dumps import (
    DumpError,
    download,
    dump_filename,
    inspect_dump,
    published_checksum,
)
from bloodbank.data.snapshot import fetch_dump
from bloodbank.data.synthetic.wikidump import iter_dump_xml, write_dump

GENSIM_DATA = Path(__import__("gensim").__file__).parent / "test" / "test_data"


def xml(dbname: str = "fiwiki", pages: int = 2, words: int = 0) -> bytes:
    rng = random.Random(0)

    def noise() -> str:
        return " ".join(f"{rng.getrandbits(40):x}" for _ in range(words))

    body = "".join(
        f"<page><title>P{i}</title><ns>0</ns><id>{i}</id><revision><id>{i}</id>"
        f"<text>Some text number {i}. Another sentence here. {noise()}</text>"
        "</revision></page>"
        for i in range(pages)
    )
    return (
        f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">'
        f"<siteinfo><dbname>{dbname}</dbname></siteinfo>{body}</mediawiki>"
    ).encode()


def good_dump(tmp_path: Path) -> Path:
    return write_dump(
        tmp_path / "qaawiki-20211101-pages-articles.xml.bz2", "qaa", 0, 40, "20211101"
    )


def bad_dumps(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    good = good_dump(tmp_path).read_bytes()
    corrupt = bytearray(good)
    corrupt[len(good) // 2 : len(good) // 2 + 64] = bytes(64)
    return {
        "corrupt": (bytes(corrupt), "corrupt bz2 data"),
        "truncated": (good[: len(good) // 2], "truncated bz2"),
        "utf16": (bz2.compress(xml().decode().encode("utf-16")), "not UTF-8 (looks like UTF-16)"),
        "latin1": (
            bz2.compress(xml().replace(b"Some", "Söme".encode("latin-1"))),
            "not UTF-8 (bad byte at offset",
        ),
        "not_xml": (
            bz2.compress(b"just some words, no markup at all\n"),
            "not a MediaWiki XML export",
        ),
        "html": (bz2.compress(b"<html><body>hi</body></html>"), "root element <html>"),
        "empty_file": (b"", "empty file"),
        "empty_bz2": (bz2.compress(b""), "empty dump (no XML"),
        "no_pages": (bz2.compress(xml(pages=0)), "empty dump (no <page>"),
        "plain_xml": (xml(), "not bz2-compressed"),
        # whole bz2, cut XML: a page left open, the root never closed
        "xml_cut_at_a_third": (
            bz2.compress(xml(pages=9)[: len(xml(pages=9)) // 3]),
            "truncated XML: 3 <page> opened, 2 closed",
        ),
        "root_never_closed": (
            bz2.compress(xml().removesuffix(b"</mediawiki>")),
            "truncated XML: it ends before </mediawiki>",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "corrupt",
        "truncated",
        "utf16",
        "latin1",
        "not_xml",
        "html",
        "empty_file",
        "empty_bz2",
        "no_pages",
        "plain_xml",
        "xml_cut_at_a_third",
        "root_never_closed",
    ],
)
def test_inspect_dump_names_file_and_cause(tmp_path, kind):
    data, cause = bad_dumps(tmp_path)[kind]
    path = tmp_path / f"{kind}.xml.bz2"
    path.write_bytes(data)
    with pytest.raises(DumpError) as err:
        inspect_dump(path, "fiwiki")
    assert str(err.value).startswith(str(path) + ": ")
    assert cause in str(err.value) and "\n" not in str(err.value)


def test_inspect_dump_wrong_wiki(tmp_path):
    with pytest.raises(DumpError, match="dump of 'qaawiki', expected 'fiwiki'"):
        inspect_dump(good_dump(tmp_path), "fiwiki")


def test_inspect_dump_counts_pages_in_multistream(tmp_path):
    text = "".join(iter_dump_xml("qab", 0, 30, "20211101")).encode()
    cut = text.index(b"  <page>", len(text) // 2)
    path = tmp_path / "multi.xml.bz2"
    path.write_bytes(bz2.compress(text[:cut]) + bz2.compress(text[cut:]))
    single = tmp_path / "single.xml.bz2"
    single.write_bytes(bz2.compress(text))
    assert (
        inspect_dump(path, "qabwiki").pages == inspect_dump(single).pages == text.count(b"<page>")
    )


def test_real_utf16_dump_shipped_by_gensim_is_reported():
    src = GENSIM_DATA / "bgwiki-latest-pages-articles-shortened.xml.bz2"
    with pytest.raises(DumpError, match="UTF-16"):
        inspect_dump(src)


def test_real_enwiki_excerpt_is_accepted():
    info = inspect_dump(
        GENSIM_DATA / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
        "enwiki",
    )
    assert info.pages == 206


# -- sources -----------------------------------------------------------------


def test_synthetic_source_refuses_real_language(tmp_path):
    with pytest.raises(DumpError, match="real language cannot come from dump.source='synth"):
        fetch_dump(
            "fi", DumpConfig(), SyntheticConfig(), tmp_path / "x.xml.bz2", tmp_path / "m.json"
        )


def test_local_source_copies_and_validates(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fiwiki-20211101-pages-articles.xml.bz2").write_bytes(bz2.compress(xml()))
    pattern = tmp_path / "src" / "{wiki}wiki-{date}-pages-articles.xml.bz2"
    cfg = DumpConfig(source="local", local_pattern=str(pattern))
    out = tmp_path / "out" / dump_filename("fi", "20211101")
    info = fetch_dump("fi", cfg, SyntheticConfig(), out, tmp_path / "m.json")
    assert info.pages == 2 and out.read_bytes() == bz2.compress(xml())
    with pytest.raises(DumpError, match="no such dump"):
        fetch_dump(
            "de", cfg, SyntheticConfig(), tmp_path / "out" / "de.xml.bz2", tmp_path / "m.json"
        )


def serve_dump(mirror: Mirror, wiki: str, date: str, data: bytes, checksum: str | None = None):
    name = dump_filename(wiki, date)
    digest = checksum or hashlib.sha1(data).hexdigest()
    mirror.state.files[f"/{wiki}wiki/{date}/{name}"] = data
    mirror.state.files[f"/{wiki}wiki/{date}/{wiki}wiki-{date}-sha1sums.txt"] = (
        f"0000  {wiki}wiki-{date}-stub-articles.xml.gz\n{digest}  {name}\n"
    ).encode()
    return f"/{wiki}wiki/{date}/{name}"


def big_dump() -> bytes:
    """About 300 kB that bz2 cannot shrink much, so transfers take many chunks."""
    return bz2.compress(xml(pages=3000, words=20))


def test_wikimedia_download_verifies_checksum(tmp_path):
    data = big_dump()
    with Mirror() as m:
        serve_dump(m, "fi", "20211101", data)
        cfg = DumpConfig(source="wikimedia", mirror=m.url, retries=0)
        out = tmp_path / dump_filename("fi", "20211101")
        info = fetch_dump("fi", cfg, SyntheticConfig(), out, tmp_path / "m.json")
    assert out.read_bytes() == data and info.pages == 3000
    assert not out.with_name(out.name + ".part").exists()


def test_wikimedia_download_resumes_after_a_dropped_connection(tmp_path):
    data = big_dump()
    with Mirror() as m:
        path = serve_dump(m, "fi", "20211101", data)
        m.state.drop_after[path] = len(data) // 3
        m.state.drops_left = 1
        expected = published_checksum(m.url, "fi", "20211101", "sha1", 5)
        out = tmp_path / "fi.xml.bz2"
        download(m.url + path, out, expected, "sha1", timeout=5, retries=2, backoff=0.01)
    assert out.read_bytes() == data
    ranges = [r for p, r in m.state.requests if p == path]
    assert ranges[0] is None and ranges[1].startswith("bytes=")
    resumed_at = int(ranges[1][6:-1])
    assert 0 < resumed_at <= len(data) // 3  # kept what arrived, up to the last whole chunk


def test_interrupted_download_leaves_part_file_and_resumes_next_run(tmp_path):
    data = big_dump()
    out = tmp_path / "fi.xml.bz2"
    part = tmp_path / "fi.xml.bz2.part"
    sha = hashlib.sha1(data).hexdigest()
    with Mirror() as m:
        path = serve_dump(m, "fi", "20211101", data)
        m.state.drop_after[path] = 40_000
        m.state.drops_left = 10
        with pytest.raises(DumpError, match="rerun to resume from byte"):
            download(m.url + path, out, sha, "sha1", timeout=5, retries=1, backoff=0.01)
        kept = part.stat().st_size
        assert not out.exists() and 40_000 < kept <= 80_000  # two attempts made progress
        m.state.drops_left = 0
        download(m.url + path, out, sha, "sha1", timeout=5, retries=0)
    assert out.read_bytes() == data and not part.exists()
    assert m.state.requests[-1] == (path, f"bytes={kept}-")


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    data = big_dump()
    out = tmp_path / "fi.xml.bz2"
    (tmp_path / "fi.xml.bz2.part").write_bytes(b"garbage from an old attempt")
    with Mirror() as m:
        path = serve_dump(m, "fi", "20211101", data)
        m.state.ignore_range = True
        download(m.url + path, out, hashlib.sha1(data).hexdigest(), "sha1", timeout=5, retries=0)
    assert out.read_bytes() == data


def test_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path):
    data = big_dump()
    with Mirror() as m:
        serve_dump(m, "fi", "20211101", data, checksum="0" * 40)
        cfg = DumpConfig(source="wikimedia", mirror=m.url, retries=0)
        out = tmp_path / dump_filename("fi", "20211101")
        with pytest.raises(DumpError, match="sha1 mismatch"):
            fetch_dump("fi", cfg, SyntheticConfig(), out, tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_missing_checksum_entry_and_missing_list(tmp_path):
    with Mirror() as m:
        m.state.files["/fiwiki/20211101/fiwiki-20211101-sha1sums.txt"] = b"abc  other.bz2\n"
        with pytest.raises(DumpError, match="no checksum listed for fiwiki-20211101"):
            published_checksum(m.url, "fi", "20211101", "sha1", 5)
        with pytest.raises(DumpError, match="cannot fetch the checksum list"):
            published_checksum(m.url, "de", "20211101", "sha1", 5)


# -- the stage, as DVC runs it -------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["corrupt", "truncated", "utf16", "not_xml", "empty_file", "no_pages", "wrong_wiki"]
)
def test_dump_stage_fails_in_one_line_and_leaves_nothing(tmp_path, kind):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stages", repo / "stages")
    src = tmp_path / "src"
    src.mkdir()
    data = bz2.compress(xml("dewiki")) if kind == "wrong_wiki" else bad_dumps(tmp_path)[kind][0]
    (src / "fiwiki-20211101-pages-articles.xml.bz2").write_bytes(data)
    params = tiny_params(
        languages=["fi"],
        studied=["fi"],
        dump={
            "source": "local",
            "local_pattern": str(src / "{wiki}wiki-{date}-pages-articles.xml.bz2"),
        },
        runtime={"tracking": {"enabled": False}},
    )
    write_params(repo, params)
    proc = subprocess.run(
        [sys.executable, "-P", "stages/dump.py", "fi"], cwd=repo, capture_output=True, text=True
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "fiwiki-20211101-pages-articles.xml.bz2" in lines[0]
    assert not (repo / "data" / "dumps").exists() or not any((repo / "data" / "dumps").iterdir())


def test_an_edition_whose_prefix_is_not_its_code_is_fetched_under_its_prefix(tmp_path):
    """Alemannic is the edition `als` (ISO 639 `gsw`): the stage asks the mirror for
    alswiki and writes the file dvc.yaml names after the code, gswwiki-…."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "stages", repo / "stages")
    with Mirror() as m:
        serve_dump(m, "als", "20211101", bz2.compress(xml("alswiki")))
        params = tiny_params(
            languages=["gsw"],
            studied=["gsw"],
            dump={"source": "wikimedia", "mirror": m.url, "retries": 0},
            runtime={"tracking": {"enabled": False}},
        )
        write_params(repo, params)
        proc = subprocess.run(
            [sys.executable, "-P", "stages/dump.py", "gsw"],
            cwd=repo,
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 0, proc.stderr
    dumps = repo / "data" / "dumps"
    assert (dumps / "gswwiki-20211101-pages-articles.xml.bz2").is_file()
    manifest = json.loads((dumps / "gswwiki-20211101-manifest.json").read_text())
    assert manifest["wiki"] == "alswiki"
