"""``lbb``: what researchers run beside ``dvc repro``.

Each command lives in its own module, its parser beside its handler; this module only
assembles them. ``lbb COMMAND --help`` says what each does.
"""

from __future__ import annotations

import argparse
import sys

from bloodbank.cli import (
    config,
    dump,
    estimate,
    explore,
    graph,
    languages,
    mlflow_ui,
    repro,
    tables,
)
from bloodbank.core.errors import BloodbankError
from bloodbank.core.offline import offline_environment

# in the order `lbb --help` lists them
COMMANDS = (repro, config, languages, graph, explore, mlflow_ui, tables, estimate, dump)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lbb",
        description="Mapping the Linguistic Blood Bank: tools beside `dvc repro`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The pipeline itself runs with `dvc repro` (or `lbb repro`); the docs in "
        "docs/ say more.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        offline_environment()
        return args.func(args)
    except (BloodbankError, OSError) as e:  # a missing path, a directory, a full disk
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a command writes its outputs whole at its end, or nothing
        print("interrupted", file=sys.stderr)
        return 130
