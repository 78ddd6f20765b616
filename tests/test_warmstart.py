"""Stages started warm: the same process a cold start gives, and stopped the same way.

Each test starts its own server (a private temporary folder, so a private socket) that
preloads only `json`: the mechanism, not torch's import time, is under test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import gone, until

from bloodbank.core import warmstart

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

SCRIPT = """
import os, sys, time
from pathlib import Path
from bloodbank.core.errors import BloodbankError
from bloodbank.core.stagekit import run_main

def main(argv):
    Path("pid").write_text(str(os.getpid()))
    mode = sys.argv[1]
    print(f"cwd={Path.cwd().name} args={sys.argv[1:]} x={os.environ.get('X')} path={sys.path}"
          f" main={__name__} warm={os.environ.get('LBB_WARM_CHILD', '')}")
    print("to stderr", file=sys.stderr)
    if mode == "fail":
        raise BloodbankError("a known failure")
    if mode == "exit":
        sys.exit(3)
    if mode == "sleep":
        Path("started").write_text("")
        time.sleep(60)

run_main(main)
"""


@pytest.fixture
def stage(tmp_path):
    """A stage script in a folder of its own, and the environment of its server: a
    private temporary folder (short: a socket's path holds about 100 bytes)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "stage.py").write_text(SCRIPT)
    sockets = tempfile.mkdtemp(prefix="lbbws", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LBB_WARM")}
    env.update(TMPDIR=sockets, LBB_WARM_PRELOAD="json", LBB_WARM_IDLE="20", X="1")
    yield folder, env
    shutil.rmtree(sockets, ignore_errors=True)


def launch(folder: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-P", "stage.py", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started_server(folder: Path, env: dict) -> Path:
    """Run one stage cold, which starts the server; wait until it listens."""
    cold = launch(folder, env, "ok")
    out, _ = cold.communicate(timeout=60)
    assert out.rstrip().endswith("warm=")  # the first stage ran itself
    sockets = Path(env["TMPDIR"])
    if until(lambda: list(sockets.glob("bloodbank-*/*.sock")), 30):
        return next(sockets.glob("bloodbank-*/*.sock"))
    logs = "\n".join(p.read_text() for p in sockets.glob("bloodbank-*/*.log"))
    raise AssertionError(f"no server socket; its log:\n{logs}")


def test_a_warm_stage_runs_as_a_cold_one(stage):
    folder, env = stage
    cold = launch(folder, {**env, "LBB_WARM_STAGES": "0"}, "ok", "two")
    expected, _ = cold.communicate(timeout=60)
    started_server(folder, env)
    proc = launch(folder, env, "ok", "two")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == expected.replace("warm=\n", "warm=1\n")
    assert "args=['ok', 'two'] x=1" in out and "main=__main__" in out
    assert err == "to stderr\n"
    assert int((folder / "pid").read_text()) != proc.pid  # a forked child ran it


def test_exit_codes_and_one_line_errors_come_back(stage):
    folder, env = stage
    started_server(folder, env)
    failed = launch(folder, env, "fail")
    _, err = failed.communicate(timeout=60)
    assert failed.returncode == 1
    assert err.splitlines()[-1] == "error: a known failure"
    exited = launch(folder, env, "exit")
    exited.communicate(timeout=60)
    assert exited.returncode == 3


def test_sigterm_reaches_the_stage_which_ends_as_interrupted(stage):
    folder, env = stage
    started_server(folder, env)
    proc = launch(folder, env, "sleep")
    wait_for(folder / "started")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "error: interrupted" in err


def test_a_stage_whose_caller_is_killed_stops_itself(stage):
    folder, env = stage
    started_server(folder, env)
    proc = launch(folder, env, "sleep")
    wait_for(folder / "started")
    child = int((folder / "pid").read_text())
    proc.kill()
    proc.communicate(timeout=30)
    assert gone(child, warmstart.GRACE + 5)


def test_off_starts_no_server(stage):
    folder, env = stage
    env["LBB_WARM_STAGES"] = "0"
    proc = launch(folder, env, "ok")
    out, _ = proc.communicate(timeout=60)
    time.sleep(1)
    assert out.rstrip().endswith("warm=")
    assert not list(Path(env["TMPDIR"]).glob("bloodbank-*/*"))


def test_the_server_is_keyed_by_the_environment(stage):
    _, env = stage
    base = warmstart.key(env)
    assert warmstart.key({**env, "DVC_STAGE": "mono@qaa", "PWD": "/x"}) == base
    assert warmstart.key({**env, "MKL_CBWR": "AUTO"}) != base
    assert warmstart.key({**env, "HF_HOME": "/elsewhere"}) != base


def wait_for(path: Path) -> None:
    assert until(path.exists, 30, every=0.05), f"{path} never appeared"


def test_an_idle_server_exits_and_leaves_no_files(stage):
    folder, env = stage
    sock = started_server(folder, {**env, "LBB_WARM_IDLE": "1"})
    assert until(lambda: not list(sock.parent.iterdir()), 30), list(sock.parent.iterdir())
