"""Mirrors that misbehave, on 127.0.0.1: a decompression bomb, wrong bytes, an unknown or
under-reported size, redirects away from HTTP or to another host, a trickle. Each ends
in one line naming the URL or file, in bounded memory and time, and leaves no cache
that poisons the next run."""

from __future__ import annotations

import bz2
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from httpfixture import Mirror
from test_streams import DATE, fetch, serve, world

from bloodbank.data.dumps import DumpError, Limits, inspect_dump
from bloodbank.data.synthetic.multistream import mediawiki_open
from bloodbank.data.synthetic.wikidump import _siteinfo

PAGE_MIB = 512  # each stream of the bomb: one page of this much text, ~500 bytes of bz2


@pytest.fixture(scope="module")
def bomb_stream() -> bytes:
    """One bz2 stream of one 512 MiB page (compressed once: about 3 s)."""
    c = bz2.BZ2Compressor(9)
    out = [c.compress(b"<page><title>A</title><ns>0</ns><id>1</id><revision><text>")]
    chunk = b"a" * (16 << 20)
    out += [c.compress(chunk) for _ in range(PAGE_MIB // 16)]
    out += [c.compress(b"</text></revision></page>\n"), c.flush()]
    return b"".join(out)


def bomb_file(path: Path, stream: bytes, code: str = "fi") -> Path:
    """A multistream dump of 8 such streams after a valid header, a few KB on disk."""
    head = bz2.compress((mediawiki_open(code) + _siteinfo(code)).encode())
    tail = bz2.compress(b"</mediawiki>\n")
    path.write_bytes(head + stream * 8 + tail)
    return path


def peak_rss_mb(code: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``code`` in a fresh Python; its own peak RSS in MB (written to a file, so the
    process's output stays what the user would see)."""
    rss = cwd / "rss.txt"
    wrapped = (
        "import resource, atexit\n"
        f"atexit.register(lambda: open({str(rss)!r}, 'w').write("
        "str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n" + code
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapped], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return proc, int(rss.read_text()) / 1024


@pytest.mark.slow  # a few seconds: a fresh Python to measure its own peak memory
def test_lbb_dump_refuses_a_decompression_bomb_in_bounded_memory(tmp_path, bomb_stream):
    bomb = bomb_file(tmp_path / "fiwiki.xml.bz2", bomb_stream)
    assert bomb.stat().st_size < 10_000
    code = (
        "import sys\nfrom bloodbank.cli import main\n"
        f"sys.exit(main(['dump', {str(bomb)!r}, '--dbname', 'fiwiki']))\n"
    )
    proc, peak = peak_rss_mb(code, tmp_path)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()
    assert len(last) == 1 and last[0].startswith("error: "), proc.stderr
    assert "a page of more than 32 MiB" in last[0] and str(bomb) in last[0]
    assert peak < 1024, f"peak RSS {peak:.0f} MB"


@pytest.mark.slow  # a few seconds: a fresh Python to measure its own peak memory
def test_the_streams_source_refuses_a_decompression_bomb_in_bounded_memory(tmp_path, bomb_stream):
    bomb = bomb_file(tmp_path / "bomb.xml.bz2", bomb_stream, code="qaa")
    with Mirror() as m:
        name = f"qaawiki-{DATE}-pages-articles-multistream.xml.bz2"
        m.state.files[f"/qaawiki/{DATE}/{name}"] = bomb.read_bytes()
        sha = hashlib.sha1(bomb.read_bytes()).hexdigest()
        m.state.files[f"/qaawiki/{DATE}/qaawiki-{DATE}-sha1sums.txt"] = f"{sha}  {name}\n".encode()
        code = (
            "from pathlib import Path\n"
            "from bloodbank.core.config import StreamsConfig\n"
            "from bloodbank.data.dumps import DumpError\n"
            "from bloodbank.data.streams import fetch_streams\n"
            "try:\n"
            f"    fetch_streams(Path('out.xml.bz2'), 'qaa', {DATE!r}, mirror={m.url!r},\n"
            "        cfg=StreamsConfig(text_chars=1000), algo='sha1', timeout=5, retries=0)\n"
            "except DumpError as e:\n"
            "    print(e)\n"
        )
        proc, peak = peak_rss_mb(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert "\n" not in message and "a page of more than 32 MiB" in message, message
    assert "the stream at byte " in message and name in message
    assert peak < 1024, f"peak RSS {peak:.0f} MB"
    assert not (tmp_path / "out.xml.bz2").exists()


def test_a_stream_over_its_cap_is_refused(tmp_path):
    """Many small pages that together pass dump.max_stream_mb."""
    pages = b"".join(
        b"<page><title>A</title><ns>0</ns><id>%d</id><text>" % i
        + b"b" * (1 << 20)
        + b"</text></page>\n"
        for i in range(6)
    )
    path = tmp_path / "qaawiki.xml.bz2"
    head = bz2.compress((mediawiki_open("qaa") + _siteinfo("qaa")).encode())
    path.write_bytes(head + bz2.compress(pages) + bz2.compress(b"</mediawiki>\n"))
    from bloodbank.data.streams import FileRanges, Reader

    src = FileRanges(path, Limits(rate=1e6, page=2 << 20, stream=4 << 20))
    reader = Reader(src, 0, str(path))
    reader.next()
    with pytest.raises(DumpError, match=r"decompresses to more than 4 MiB; dump.max_stream_mb"):
        reader.next()
    with pytest.raises(DumpError, match="a page of more than 0.5 MiB"):
        inspect_dump(path, "qaawiki", max_page_mb=0.5)


# --- a bad answer is not kept ------------------------------------------------------------


def test_wrong_bytes_are_dropped_from_the_cache_and_a_rerun_recovers(tmp_path):
    dump = world(tmp_path)
    with Mirror() as m:
        serve(m, dump)
        m.state.garble = 2  # the size probe's byte and the header's first range: zeros
        with pytest.raises(DumpError) as err:
            fetch(m, tmp_path / "out")
        message = str(err.value)
        assert "\n" not in message and "corrupt bz2 stream at byte 0" in message
        assert "were dropped from" in message and ".ranges" in message
        m.state.garble = 0
        snap = fetch(m, tmp_path / "out")  # the same mirror, honest now: no poisoned cache
    assert inspect_dump(snap.path, "qaawiki").pages > 0


def test_a_cache_from_another_file_is_emptied(tmp_path):
    dump = world(tmp_path)
    cache = tmp_path / "out" / "qaawiki.xml.bz2.ranges"
    cache.mkdir(parents=True)
    (cache / "0-8192").write_bytes(bytes(8192))  # pieces of unknown origin
    with Mirror() as m:
        serve(m, dump)
        snap = fetch(m, tmp_path / "out")
    assert inspect_dump(snap.path, "qaawiki").pages > 0


# --- sizes, redirects, slowness ----------------------------------------------------------


def _status(name: str, size: int) -> bytes:
    files = {name: {"size": size, "url": f"/qaawiki/{DATE}/{name}"}}
    return json.dumps({"jobs": {"articlesmultistreamdump": {"files": files}}}).encode()


def test_an_unknown_size_is_refused_unless_dumpstatus_gives_it(tmp_path):
    dump = world(tmp_path)
    with Mirror() as m:
        path = serve(m, dump)
        m.state.size_unknown = True
        with pytest.raises(DumpError, match=r"does not tell the file's size \(Content-Range"):
            fetch(m, tmp_path / "a")
        status = f"/qaawiki/{DATE}/dumpstatus.json"
        m.state.files[status] = _status(dump.dump.name, len(m.state.files[path]))
        snap = fetch(m, tmp_path / "b")
    assert snap.manifest["file_bytes"] == dump.dump.stat().st_size
    assert snap.manifest["file_bytes_checked_by"] == "dumpstatus.json"


def test_an_under_reported_size_is_caught(tmp_path):
    dump = world(tmp_path)
    with Mirror() as m:
        path = serve(m, dump)
        size = len(m.state.files[path])
        m.state.report_size[path] = size // 3
        with pytest.raises(DumpError, match="serves bytes past them"):
            fetch(m, tmp_path / "a")
        m.state.files[f"/qaawiki/{DATE}/dumpstatus.json"] = _status(dump.dump.name, size)
        with pytest.raises(DumpError, match=f"reports {size // 3:,} bytes, the snapshot's"):
            fetch(m, tmp_path / "b")


def test_a_redirect_out_of_http_is_one_line(tmp_path):
    dump = world(tmp_path)
    with Mirror() as m:
        path = serve(m, dump)
        m.state.redirects[path] = "file:///etc/passwd"
        with pytest.raises(DumpError) as err:
            fetch(m, tmp_path / "a")
    message = str(err.value)
    assert "\n" not in message and "not http(s)" in message and m.url in message


def test_a_redirect_to_another_host_is_recorded(tmp_path):
    dump = world(tmp_path)
    with Mirror() as first, Mirror() as second:
        path = serve(first, dump)
        serve(second, dump)
        first.state.redirects[path] = second.url + path
        snap = fetch(first, tmp_path / "a")
    assert snap.manifest["url"] == first.url + path
    assert snap.manifest["redirected_to"] == second.url + path


@pytest.mark.slow  # waits out a deadline
def test_a_trickling_mirror_meets_a_deadline(tmp_path):
    dump = world(tmp_path)
    with Mirror() as m:
        serve(m, dump)
        m.state.trickle = 0.02  # 50 bytes a second
        from bloodbank.core.config import StreamsConfig
        from bloodbank.data.streams import fetch_streams

        started = time.monotonic()
        with pytest.raises(DumpError) as err:
            fetch_streams(
                tmp_path / "x.xml.bz2",
                "qaa",
                DATE,
                mirror=m.url,
                cfg=StreamsConfig(text_chars=1000),
                algo="sha1",
                timeout=1,
                retries=0,
                limits=Limits(rate=100_000, page=1 << 20, stream=1 << 24),
            )
        took = time.monotonic() - started
    assert "not done by its deadline" in str(err.value), err.value
    assert took < 10, f"{took:.1f} s"
