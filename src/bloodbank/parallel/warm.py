"""Stage processes forked from a warm interpreter: torch and transformers imported once.

A stage of the embedded default spends seconds importing torch and transformers before
it does a second of work, and the pipeline has dozens of stages. Each Ray worker keeps a
``multiprocessing`` fork server that has imported those libraries once; a stage whose
command is ``python [-P] stages/<name>.py [args]`` runs in a fresh child forked from it.

Isolation is that of ``dvc repro``: every stage is its own process, with its own
environment, working folder, arguments and output; nothing a stage imports or changes
reaches the next stage, since each child is forked from the untouched server. The server
imports only third-party libraries that read no repository state at import time (never
``bloodbank``), after the stage environment's fixed variables (offline flags, cache
folders) are set, exactly as a stage sets them before its own imports. Any other command,
or a ``python`` that is not this interpreter, runs in a shell as DVC runs it.

Every stage, forked or run in a shell, is a child of the server that watches the Ray
worker that started it: when Ray kills the worker (a cancelled task, a lost worker), the
child kills its own process group, so a stage never runs on unseen beside its retry.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import forkserver
from pathlib import Path

from bloodbank.core.warmstart import CHILD, PRELOAD, run_script

SHELL_SYNTAX = set(";&|<>$`(){}[]*?~!#=\\\"'\n")


def python_stage(cmd: str, path: str | None = None) -> list[str] | None:
    """``[script, *args]`` when ``cmd`` is ``python [-P] <script>.py [args]`` run by this
    very interpreter (``path`` is the stage's PATH); else None, and it runs in a shell.

    The script comes first and ``-P`` is marked by a leading ``"-P"``: ``["-P", script,
    *args]``. Anything a shell would interpret (quotes, variables, redirections, ``;``)
    keeps the shell."""
    if any(ch in SHELL_SYNTAX for ch in cmd):
        return None
    words = shlex.split(cmd)
    if len(words) < 2 or Path(words[0]).name not in ("python", "python3"):
        return None
    exe = shutil.which(words[0], path=path)
    if exe is None or os.path.realpath(exe) != os.path.realpath(sys.executable):
        return None
    flags = []
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        if rest[0] != "-P":
            return None  # -m, -c, -O...: not a plain script; the shell runs it
        flags.append(rest.pop(0))
    if not rest or not rest[0].endswith(".py"):
        return None
    return [*dict.fromkeys(flags), *rest]


_context: multiprocessing.context.ForkServerContext | None = None


def context(
    environ: dict[str, str], preload: list[str]
) -> multiprocessing.context.ForkServerContext:
    """This process's fork server, started (once) with ``environ``, importing ``preload``.

    The server is started under the stage's environment (libraries read some variables,
    such as ``HF_HOME``, on import); this process's own environment is left as it was."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(preload)
        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            forkserver.ensure_running()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        _context = ctx
    return _context


def run_stage(cmd: str, cwd: str, env: dict[str, str], log: str, warm: bool = True) -> int:
    """Run a stage's command in a child of the fork server; its output goes to ``log``.

    With ``warm``, a python stage (see :func:`python_stage`) runs in the child itself;
    any other command, or every command without ``warm``, in a shell the child starts.
    Returns the exit code."""
    argv = python_stage(cmd, env.get("PATH")) if warm else None
    child = context(env, list(PRELOAD) if warm else []).Process(
        target=_child, args=(argv, cmd, cwd, env, log, os.getpid())
    )
    child.start()
    child.join()
    return child.exitcode if child.exitcode is not None else 1


GRACE = 10.0  # seconds a stopped stage has to end its MLflow run and clean up


def _watch(parent: int) -> None:
    """Stop this stage's process group once ``parent`` (the Ray worker) is gone: SIGTERM
    first, as ``dvc repro`` stops a stage (its MLflow run ends as KILLED, its temporary
    files are removed), then SIGKILL after ``GRACE`` seconds."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
    os.killpg(0, signal.SIGTERM)
    time.sleep(GRACE)
    os.killpg(0, signal.SIGKILL)


def _child(
    argv: list[str] | None, cmd: str, cwd: str, env: dict[str, str], log: str, parent: int
) -> None:
    os.setpgrp()  # its own group: the watchdog kills the stage and its subprocesses
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    Path(log).with_suffix(".pid").write_text(f"{parent} {os.getpid()}\n")
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    os.environ[CHILD] = "1"  # already warm: the stage does not ask the stage server
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    if argv is None:
        shell = env.get("SHELL") or "/bin/sh"
        sys.exit(subprocess.call([shell, "-c", cmd]))
    sys.exit(run_script(argv))
