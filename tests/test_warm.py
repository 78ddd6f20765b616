"""Warm stage processes for `lbb repro`: forked from a server with torch imported, and
otherwise run exactly as DVC runs a command (arguments, folder, environment, exit code)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from bloodbank.parallel.warm import python_stage, run_stage

BIN = str(Path(sys.executable).parent)  # a PATH on which `python` is this interpreter


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("python -P stages/mono.py", ["-P", "stages/mono.py"]),
        ("python stages/pair.py qaa qab", ["stages/pair.py", "qaa", "qab"]),
        ("python -m bloodbank.cli", None),  # a module, not a script
        ("python -P stages/x.py > out.txt", None),  # a redirection: the shell's job
        ("python -P stages/x.py && touch done", None),
        ("python -P stages/$X.py", None),
        ("echo python stages/x.py", None),
        ("python", None),
    ],
)
def test_only_plain_python_scripts_are_forked(cmd, expected):
    assert python_stage(cmd, BIN) == expected


def test_another_python_on_the_path_keeps_the_shell(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert python_stage("python -P stages/mono.py", str(tmp_path)) is None


SCRIPT = textwrap.dedent("""\
    import os, sys
    print("argv", sys.argv[1:])
    print("cwd", os.getcwd())
    print("X", os.environ.get("X"))
    print("torch", "torch" in sys.modules)
    print("here", os.path.dirname(os.path.abspath(__file__)) in sys.path)
    if sys.argv[1] == "boom":
        raise RuntimeError("stage broke")
    sys.exit(int(sys.argv[1]))
""")


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "stages" / "probe.py"
    path.parent.mkdir()
    path.write_text(SCRIPT)
    return path


def stage(cmd: str, folder: Path, log: Path, warm: bool = True) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "X": "from-the-stage"}
    code = run_stage(cmd, str(folder), env, str(log), warm)
    return code, log.read_text()


@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_a_forked_stage_gets_its_arguments_folder_environment_and_exit_code(script, tmp_path):
    code, out = stage("python -P stages/probe.py 3 b", tmp_path, tmp_path / "a.log")
    assert code == 3
    assert "argv ['3', 'b']" in out and f"cwd {tmp_path}" in out
    assert "X from-the-stage" in out
    assert "torch True" in out  # imported by the server, before the fork
    assert "here False" in out  # -P: the script's folder is not on sys.path
    assert "X" not in os.environ  # the test process's own environment is untouched
    worker, child = map(int, (tmp_path / "a.pid").read_text().split())
    assert worker == os.getpid() and child != worker


@pytest.mark.slow  # a fresh interpreter per run
def test_without_p_the_scripts_folder_comes_first(script, tmp_path):
    code, out = stage("python stages/probe.py 0", tmp_path, tmp_path / "b.log")
    assert code == 0 and "here True" in out


def test_a_crashing_stage_exits_1_with_its_traceback(script, tmp_path):
    code, out = stage("python -P stages/probe.py boom", tmp_path, tmp_path / "c.log")
    assert code == 1
    assert out.rstrip().splitlines()[-1] == "RuntimeError: stage broke"


def test_other_commands_and_cold_stages_run_in_a_shell(script, tmp_path):
    code, out = stage('echo "$X"; exit 4', tmp_path, tmp_path / "d.log")
    assert (code, out) == (4, "from-the-stage\n")
    code, out = stage("python -P stages/probe.py 5", tmp_path, tmp_path / "e.log", warm=False)
    assert code == 5 and "torch False" in out  # a fresh interpreter
