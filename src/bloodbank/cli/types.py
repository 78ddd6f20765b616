"""Argument types shared by several commands: one line for a bad value, from argparse."""

from __future__ import annotations

import argparse
from pathlib import Path

from bloodbank.core.errors import BloodbankError


class UsageError(BloodbankError, ValueError):
    """A command's value is out of range: one line, exit 1, nothing started."""


def at_least(minimum: float, values: dict[str, float | None]) -> None:
    """Refuse any of ``values`` (option → value, None: not given) below ``minimum``."""
    for option, value in values.items():
        if value is not None and value < minimum:
            raise UsageError(f"{option} must be at least {minimum:g}, not {value:g}")


def fractions(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"fractions must lie in (0, 1]: {text!r}")
    return sorted(set(values))


def bins(text: str) -> list[float]:
    try:
        borders = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None
    if len(borders) != 3 or sorted(set(borders)) != borders:
        raise argparse.ArgumentTypeError(f"need 3 increasing borders, got {text!r}")
    return borders


def existing_store() -> str:
    """The MLflow store's URI, refused when its SQLite file is missing: MLflow would
    quietly create an empty one, and the command would then find nothing in it."""
    from bloodbank.tracking.runs import tracking_uri

    uri = tracking_uri()
    store = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if store is not None and not store.is_file():
        raise UsageError(f"no MLflow store at {store}; run `dvc repro` first")
    return uri
