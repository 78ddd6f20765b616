"""Choices the command line offers before it imports the numerical modules that act on
them, so that ``lbb --help`` does not wait for pandas and SciPy. Each is defined here
once and imported by its module."""

from __future__ import annotations

KINDS: tuple[str, ...] = ("auto", "percent", "fraction", "ratio", "mrr")  # how a matrix's
# cells read (``graph.matrix_io``)
FOCUS: tuple[str, ...] = ("types", "sums")  # what ``graph.estimate.next_pairs`` narrows
