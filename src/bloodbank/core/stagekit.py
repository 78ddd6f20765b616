"""What every stage script shares: its language argument and its error handling.

Expected failures (any :class:`~bloodbank.core.errors.BloodbankError`, or a missing input
file) end a stage with one line naming the file and the cause.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bloodbank.core.errors import BloodbankError
from bloodbank.core.languages import check_code
from bloodbank.core.offline import offline_environment
from bloodbank.core.warmstart import run_warm


class StageArgumentError(BloodbankError, ValueError):
    """A stage was given a value it does not know (by hand, or through DVC_STAGE)."""


EXPECTED = (BloodbankError, FileNotFoundError)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_main(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main; expected errors exit 1 with one line, not a traceback.

    SIGTERM (how DVC and Ray stop a stage) unwinds like Ctrl-C, so that the stage's
    MLflow run ends as KILLED and no temporary output is left behind. A stage started
    from the command line runs in a child of the warm stage server when one is up, and
    this process waits for it (:mod:`bloodbank.core.warmstart`)."""
    signal.signal(signal.SIGTERM, _interrupt)
    clock = {"main": time.time()}
    try:
        offline_environment()
        if argv is None and (code := run_warm()) is not None:
            clock = {}  # the child recorded its own
            sys.exit(code)
        main(argv)
    except EXPECTED as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        if clock:
            _record_clock(clock)


def _record_clock(clock: dict[str, float]) -> None:
    """When the process started, when ``main`` began (after the script's imports) and
    when it ended, in logs/timings/process/ (beside the trainings' timings, which neither
    git nor DVC tracks): what bench/bench_time.py splits a run's time with."""
    name = os.environ.get("DVC_STAGE", "").rsplit(":", 1)[-1]
    started = _process_start()
    if not name or started is None:
        return
    from bloodbank.core import paths
    from bloodbank.core.io import write_json

    record = {"started": started, **clock, "ended": time.time()}
    with contextlib.suppress(OSError):  # a read-only or full disk costs the record only
        write_json(paths.timings("process", name), record)


def _process_start() -> float | None:
    """This process's start time (Unix seconds) from /proc; None elsewhere."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


def stage_arguments(argv: list[str] | None = None, parts: int = 1) -> list[str]:
    """The stage's values: ``argv`` (or the command line) if any, else the part of
    ``DVC_STAGE`` after ``@``. A matrix stage joins its ``parts`` values with ``-``; a
    value that itself holds ``-`` is then split wrongly, and fails validation."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args:
        return args
    name = os.environ.get("DVC_STAGE", "").rsplit(":", 1)[-1]  # "sub/dvc.yaml:stage@key"
    _, at, key = name.partition("@")
    if not at:
        return []
    values = key.split("-", parts - 1)
    if len(values) != parts:  # refused here, before anything is written
        shape = "-".join(f"<value {i + 1}>" for i in range(parts))
        raise StageArgumentError(f"stage {name!r}: its key {key!r} is not of the form {shape}")
    return values


def parse_stage_args(
    parser: argparse.ArgumentParser, argv: list[str] | None, parts: int = 1
) -> argparse.Namespace:
    """Parse the stage's values (see :func:`stage_arguments`) with ``parser``."""
    return parser.parse_args(stage_arguments(argv, parts))


def parse_language(argv: list[str] | None, description: str | None) -> str:
    """The one value of a per-language stage, checked against the registry."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "lang", nargs="?", help="language code, e.g. qaa or fi (default: from DVC_STAGE)"
    )
    lang = parse_stage_args(parser, argv).lang
    if lang is None:
        parser.error("no language: give one, or run the stage through `dvc repro`")
    return check_code(lang)


def one_of(value: str, allowed: tuple[str, ...] | list[str], what: str) -> str:
    """``value`` if it is one of ``allowed``; otherwise one line naming both."""
    if value not in allowed:
        raise StageArgumentError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value
