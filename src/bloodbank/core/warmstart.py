"""Stages started warm under `dvc repro`: a stage server forks each stage.

`dvc repro` starts every stage as a fresh `python -P stages/<name>.py`. On the embedded
default a stage then spends longer importing torch, transformers and MLflow (about 7 s
for a training stage, 2.5 s for a data stage, on 2 cores) than computing, and a fresh
clone's `dvc repro` runs 32 stages (`python bench/bench_time.py`). Build tools meet the
same cost with a server that stays warm between commands; this is that server for
stages, as `lbb repro` has one per Ray worker (:mod:`bloodbank.parallel.warm`).

The first stage of a run finds no server, starts one in the background and runs cold.
The server sets nothing and imports only third-party libraries (never this repository's
code, which each stage imports afresh), listens on a Unix socket named after everything
those imports could have read (the interpreter, the installed packages, the
environment), and exits after :data:`IDLE` seconds without a stage. A later stage's
process connects, hands over its standard streams, working folder, environment and
arguments, and waits: the server forks a child that runs the script exactly as
``python -P`` would, in its own process group. The waiting process forwards SIGINT and
SIGTERM to the child and exits with its code; if the waiting process dies (SIGKILL),
the child sees its connection close and stops itself, as DVC stops a stage.

``LBB_WARM_STAGES=0`` turns it off: every stage then starts cold. Results are the same
either way (tests/test_warmstart.py; `dvc repro` in CI keeps `git status` clean).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import json
import os
import runpy
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

SETTING = "LBB_WARM_STAGES"  # "0": every stage starts cold
CHILD = "LBB_WARM_CHILD"  # set in a stage that was started warm (here or by `lbb repro`)
IDLE = float(os.environ.get("LBB_WARM_IDLE", "30"))  # seconds the server waits for a stage
GRACE = 10.0  # seconds a stage has to stop once the process that waits for it is gone
# Third-party modules the stages import; none reads the repository on import.
PRELOAD = (
    "numpy",
    "yaml",
    "pydantic",
    "pandas",
    "tokenizers",
    "torch",
    "transformers.models.bert.modeling_bert",
    "mlflow",  # the stage's run is written in its own process (bloodbank.tracking.runs)
    "mlflow.store.tracking.sqlalchemy_store",
)
# set per stage by DVC or the shell, read by no library on import: not part of the key
VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_", "PYTEST_CURRENT_TEST", CHILD}
HEADER = struct.Struct("!q")
MAX_SOCKET_PATH = 100  # AF_UNIX paths hold 104-108 bytes, by platform


def preload() -> tuple[str, ...]:
    """The modules the server imports (``LBB_WARM_PRELOAD``, comma-separated, for tests)."""
    names = os.environ.get("LBB_WARM_PRELOAD")
    return tuple(n for n in names.split(",") if n) if names is not None else PRELOAD


def key(env: dict[str, str]) -> str:
    """Everything the server's imports could have read: the interpreter, this module, the
    installed packages (the folders' modification times change as packages come and
    go) and the environment, less what DVC and the shell set per stage."""
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{sys.flags}\0".encode())
    h.update(Path(__file__).read_bytes())
    h.update(json.dumps(sorted(_stable(env).items())).encode())
    for entry in sys.path:
        with contextlib.suppress(OSError):
            h.update(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}\0".encode())
    return h.hexdigest()[:24]


def _stable(env: dict[str, str]) -> dict[str, str]:
    """The environment less what DVC and the shell set per stage."""
    return {k: v for k, v in env.items() if k not in VOLATILE and not k.startswith("DVC_")}


def socket_path(env: dict[str, str]) -> Path | None:
    """The server's socket for this environment, in a folder only this user may open;
    None where no Unix socket path fits or the folder is not this user's alone."""
    folder = Path(tempfile.gettempdir()) / f"bloodbank-{os.getuid()}"
    path = folder / f"{key(env)}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        return None
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return path if private and not info.st_mode & 0o077 else None


def enabled() -> bool:
    return (
        os.environ.get(SETTING, "1") != "0"
        and not os.environ.get(CHILD)
        and hasattr(os, "fork")
        and hasattr(socket, "send_fds")
    )


def run_warm() -> int | None:
    """Run this stage process's script in a child of the warm server, and return its
    exit code; None where there is no server (one is started for the next stage), the
    server started no child, or warm starts are off: the caller then runs the stage
    itself."""
    if not enabled():
        return None
    env = dict(os.environ)
    path = socket_path(env)
    if path is None:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        _start_server(path, env)
        return None
    with conn:
        return _delegate(conn)


def _argv() -> list[str]:
    """This process's script and arguments, ``-P`` first when it runs with it."""
    return (["-P"] if sys.flags.safe_path else []) + [sys.argv[0], *sys.argv[1:]]


def _delegate(conn: socket.socket) -> int | None:
    request = json.dumps({"argv": _argv(), "cwd": os.getcwd(), "env": dict(os.environ)})
    body = request.encode()
    try:
        socket.send_fds(conn, [HEADER.pack(len(body))], [0, 1, 2])
        conn.sendall(body)
    except OSError:  # the server is going away: nothing started, run cold
        return None
    pid = _read_int(conn)
    if pid is None:
        return None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: _forward(pid, signum))
    code = _read_int(conn)
    if code is None:
        return _lost()
    if code < 0:  # killed by a signal: end the same way, as a cold stage would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _lost() -> int:
    print(
        "error: the warm stage server stopped during the stage "
        "(LBB_WARM_STAGES=0 starts stages cold)",
        file=sys.stderr,
    )
    return 1


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_int(conn: socket.socket) -> int | None:
    data = _read_exactly(conn, HEADER.size)
    return HEADER.unpack(data)[0] if len(data) == HEADER.size else None


def _start_server(path: Path, env: dict[str, str]) -> None:
    """Start the server in the background, unless another stage is starting it."""
    starting = path.with_suffix(".starting")
    try:
        os.close(os.open(starting, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        with contextlib.suppress(OSError):  # a start that died long ago: try again later
            if time.time() - starting.stat().st_mtime > 120:
                starting.unlink()
        return
    env = _stable(env)
    with open(path.with_suffix(".log"), "ab") as log:
        subprocess.Popen(
            [sys.executable, "-P", "-m", __name__, str(path)],
            cwd="/",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# -- the server ----------------------------------------------------------------------


def serve(path: Path) -> None:
    """Import the libraries, then fork a child per connection until :data:`IDLE`
    seconds pass with no stage running."""
    try:
        for name in preload():
            importlib.import_module(name)
        listener, inode = _listen(path)
    finally:
        path.with_suffix(".starting").unlink(missing_ok=True)
    children: dict[int, socket.socket] = {}
    idle_since = time.monotonic()
    try:
        while _ours(path, inode):
            ready, _, _ = select.select([listener], [], [], 0.2)
            if ready:
                conn, _ = listener.accept()
                try:
                    children[_spawn(conn, listener)] = conn
                except (OSError, ValueError, struct.error):  # a caller gone, a bad request
                    conn.close()
            _reap(children)
            if children:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE:
                # an idle end is a clean one: its log (import warnings at most) goes, so
                # that keys left behind by code edits leave no files; a crash keeps it
                path.with_suffix(".log").unlink(missing_ok=True)
                break
    finally:
        if _ours(path, inode):
            path.unlink(missing_ok=True)
        listener.close()


def _listen(path: Path) -> tuple[socket.socket, int]:
    """Bind under a private name, then rename into place: a stage never connects to a
    server that is not yet listening. Returns the socket and its file's inode."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    listener.bind(str(tmp))
    listener.listen(64)
    inode = os.stat(tmp).st_ino
    os.replace(tmp, path)
    return listener, inode


def _ours(path: Path, inode: int) -> bool:
    """Whether the socket file is still this server's (not removed, not replaced)."""
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _spawn(conn: socket.socket, listener: socket.socket) -> int:
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    if len(header) < HEADER.size:
        header += _read_exactly(conn, HEADER.size - len(header))
    request = json.loads(_read_exactly(conn, HEADER.unpack(header)[0]))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            code = _child(conn, fds, request)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.sendall(HEADER.pack(pid))
    return pid


def _reap(children: dict[int, socket.socket]) -> None:
    """Collect every ended child (one whose caller vanished too) and report its code."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(HEADER.pack(os.waitstatus_to_exitcode(status)))
            conn.close()


# -- a stage, in a child of the server -------------------------------------------------


def _child(conn: socket.socket, fds: list[int], request: dict) -> int:
    """The stage process: the caller's streams, folder, environment and arguments, and
    none of this repository's modules (the stage imports them afresh)."""
    os.setsid()  # its own group: stopping it stops its subprocesses too
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    _reopen_streams()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[CHILD] = "1"
    for name in [m for m in sys.modules if m == "bloodbank" or m.startswith("bloodbank.")]:
        del sys.modules[name]
    threading.Thread(target=_watch, args=(conn,), daemon=True).start()
    return run_script(request["argv"])


def _reopen_streams() -> None:
    """sys.stdin/stdout/stderr on the caller's descriptors, buffered as Python would
    buffer them (line by line on a terminal)."""
    encoding = sys.stdout.encoding
    sys.stdin = sys.__stdin__ = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(  # noqa: SIM115
        1, "w", buffering=1 if os.isatty(1) else -1, encoding=encoding, closefd=False
    )
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", buffering=1, encoding=encoding, errors="backslashreplace", closefd=False
    )


def _watch(conn: socket.socket) -> None:
    """Stop this stage once the process waiting for it is gone: SIGTERM first, as DVC
    stops a stage (its MLflow run ends as KILLED, its temporary files are removed),
    SIGKILL after :data:`GRACE` seconds."""
    with contextlib.suppress(OSError):
        while conn.recv(64):
            pass
    os.killpg(0, signal.SIGTERM)
    time.sleep(GRACE)
    os.killpg(0, signal.SIGKILL)


def run_script(argv: list[str]) -> int:
    """``python [-P] script args`` in this process: sys.path, sys.argv, ``__main__``;
    returns the exit code python would have."""
    isolated = argv[0] == "-P"
    script, *args = argv[1:] if isolated else argv
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    if not isolated:  # `python script.py` puts the script's folder first
        sys.path.insert(0, str(Path(script).resolve().parent))
    sys.argv = [script, *args]
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int | None):
            print(e.code, file=sys.stderr)
    except BaseException:  # as python itself: a traceback and exit 1
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # an interpreter runs them at exit; a forked child does not
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
