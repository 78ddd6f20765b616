"""What every stage script shares: its language argument and its error handling.

Expected failures end a stage with one line naming the file and the cause.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bloodbank.config import ConfigError
from bloodbank.downstream_sets import SelectionError
from bloodbank.dumps import DumpError
from bloodbank.extract import ExtractError
from bloodbank.languages import UnknownLanguageError, check_code
from bloodbank.sampling import ShortLanguageError
from bloodbank.taskdata import TaskDataError
from bloodbank.tracking import TrackingError
from bloodbank.transfer_matrix import MatrixError

EXPECTED = (ConfigError, DumpError, ExtractError, MatrixError, SelectionError,
            ShortLanguageError, TaskDataError, TrackingError, UnknownLanguageError,
            FileNotFoundError)


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
