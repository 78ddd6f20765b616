"""What every stage script shares: its language argument and its error handling.

Expected failures (any :class:`~bloodbank.core.errors.BloodbankError`, or a missing input
file) end a stage with one line naming the file and the cause.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bloodbank.core.errors import BloodbankError
from bloodbank.core.languages import check_code

EXPECTED = (BloodbankError, FileNotFoundError)


def run_main(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main; expected errors exit 1 with one line, not a traceback."""
    try:
        main(argv)
    except EXPECTED as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


def parse_language(argv: list[str] | None, description: str | None) -> str:
    """The one positional argument of a per-language stage, checked against the registry."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("lang", type=check_code, help="language code, e.g. qaa or fi")
    return parser.parse_args(argv).lang
