"""Reading a transfer matrix from CSV: ours, the study's, or anybody's.

Rows are sources and columns targets, keyed by language codes in the first row and
the first column. Cells hold F in percent (equation 4), F as a fraction, or the ratio
MRR(M_st, t) / MRR(M_t, t), or raw MRRs with each target's monolingual MRR on the
diagonal (as in the study's Table 5). Whatever the input, the matrix is returned as F in
percent. The diagonal may be empty: F(t→t) is not part of any score of the study.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bloodbank.core.errors import BloodbankError
from bloodbank.core.languages import UnknownLanguageError, check_code
from bloodbank.graph.names import KINDS

Kind = Literal["auto", "percent", "fraction", "ratio", "mrr"]
EMPTY = {"", "-", "na", "nan", "n/a"}
MAX_PERCENT = 1e6
BASELINES = {"mono": "", "matched": "_matched"}  # file suffix of F against each baseline


class MatrixError(BloodbankError, ValueError):
    """The CSV is not a usable transfer matrix; the message names the file and cell."""


@dataclass(frozen=True)
class TransferMatrix:
    langs: list[str]
    f: np.ndarray  # F(s→t) in percent, rows sources, columns targets; NaN on a blank diagonal
    kind: str  # what the cells held: percent, fraction, ratio or mrr
    kind_reason: str  # how that was decided, for the report
    diagonal_mrr: dict[str, float] | None = None  # monolingual MRRs, when the input held MRRs
    # True where the pair was trained, False where graph.estimate filled it in; None when
    # the matrix is measured throughout (then nothing is marked anywhere)
    measured: np.ndarray | None = None

    def estimated(self) -> np.ndarray:
        """Off-diagonal cells that were estimated, not measured."""
        if self.measured is None:
            return np.zeros((len(self.langs), len(self.langs)), dtype=bool)
        return self.off_diagonal() & ~self.measured

    def off_diagonal(self) -> np.ndarray:
        return ~np.eye(len(self.langs), dtype=bool)

    def frame(self) -> pd.DataFrame:
        """F as a source × target DataFrame (index named ``source``)."""
        frame = pd.DataFrame(self.f, index=self.langs, columns=self.langs)
        frame.index.name = "source"
        return frame


def read_matrix(path: str | Path, kind: Kind = "auto", transpose: bool = False) -> TransferMatrix:
    """Parse and validate ``path``; ``transpose`` if its rows are targets."""
    path = Path(path)
    langs, values = _parse(path, _cells(path))
    if transpose:
        values = values.T
    detected, reason = (
        detect_kind(values) if kind == "auto" else (kind, "as stated by the caller, not detected")
    )
    if detected in ("ratio", "mrr"):
        _positive(path, langs, values)
    mono = None
    if detected == "mrr":
        mono = {c: float(values[i, i]) for i, c in enumerate(langs)}
    f = to_percent(values, detected)
    _plausible(path, langs, f)
    return TransferMatrix(langs, f, detected, reason, mono)


def read_scores(path: str | Path) -> pd.DataFrame:
    """Our own F matrix (metrics/finetune_scores*.csv), validated cell by cell: F in
    percent, an empty cell where pairs.yaml planned no training."""
    path = Path(path)
    langs, values = _parse(path, _cells(path), blank_pairs=True)
    return pd.DataFrame(values, index=langs, columns=langs).rename_axis("source")


def _plausible(path: Path, langs: list[str], f: np.ndarray) -> None:
    """F beyond ±1e6 % (an MRR ten thousand times its baseline) is a broken cell, and
    would only break the figures later."""
    for (i, j), v in np.ndenumerate(f):
        if abs(v) > MAX_PERCENT:
            raise MatrixError(
                f"{path}: cell {langs[i]}→{langs[j]} gives F = {v:.3g}%, beyond any "
                f"plausible transfer score (|F| ≤ {MAX_PERCENT:.0e}%)"
            )


def _cells(path: Path) -> list[list[str]]:
    """The CSV's rows as lists of cell texts, blank rows dropped, read with pandas (no
    header or type interpretation, so that every cell is checked and named here)."""
    if not path.is_file():
        raise MatrixError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    long_rows: list[list[str]] = []

    def keep_long(fields: list[str]) -> None:  # a row longer than the header
        long_rows.append(fields)

    try:
        cells = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            engine="python",
            on_bad_lines=keep_long,
        )
    except UnicodeDecodeError as e:
        raise MatrixError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except pd.errors.EmptyDataError:
        cells = pd.DataFrame()
    except pd.errors.ParserError as e:
        raise MatrixError(f"{path}: not a well-formed CSV table ({e})") from None
    if long_rows:
        width = cells.shape[1]
        raise MatrixError(
            f"{path}: row {long_rows[0][0].strip()!r} has "
            f"{len(long_rows[0]) - 1} values for {width - 1} columns"
        )
    rows = [
        [c for c in row if c is not None]  # a short row ends early: its length tells
        for row in cells.astype(object).where(cells.notna(), None).values.tolist()
    ]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 3:
        raise MatrixError(f"{path}: needs a header row and at least two language rows")
    return rows


def _code(path: Path, where: str, raw: str) -> str:
    try:
        return check_code(raw.strip())
    except UnknownLanguageError as e:
        raise MatrixError(f"{path}: {where}: {e}") from None


def _parse(
    path: Path, rows: list[list[str]], *, blank_pairs: bool = False
) -> tuple[list[str], np.ndarray]:
    """Languages and values, in the header's order; ``blank_pairs`` lets an off-diagonal
    cell be empty (a pair not trained), which an input matrix may not."""
    header = [_code(path, f"header column {i + 1}", c) for i, c in enumerate(rows[0][1:])]
    _no_duplicates(path, "columns", header)
    sources = [_code(path, f"row {n + 2} (first cell)", r[0]) for n, r in enumerate(rows[1:])]
    _no_duplicates(path, "rows", sources)
    if sorted(sources) != sorted(header):
        raise MatrixError(
            f"{path}: not square over the same languages: rows {', '.join(sources)} vs "
            f"columns {', '.join(header)}"
        )
    values = np.full((len(header), len(header)), np.nan)
    for n, row in enumerate(rows[1:]):
        s = sources[n]
        if len(row) - 1 != len(header):
            raise MatrixError(
                f"{path}: row {n + 2} ({s}) has {len(row) - 1} values for {len(header)} columns"
            )
        for j, cell in enumerate(row[1:]):
            values[header.index(s), j] = _number(path, s, header[j], cell, blank_pairs)
    return header, values


def _positive(path: Path, langs: list[str], values: np.ndarray) -> None:
    for (i, j), v in np.ndenumerate(values):
        if v <= 0:
            raise MatrixError(
                f"{path}: cell {langs[i]}→{langs[j]} is {v:g}, but an MRR or "
                "an MRR ratio is positive; is this F (pass --kind percent)?"
            )
    if np.isnan(np.diag(values)).any():
        missing = [langs[i] for i in np.flatnonzero(np.isnan(np.diag(values)))]
        raise MatrixError(
            f"{path}: the diagonal is empty for {', '.join(missing)}; MRRs and "
            "ratios need it (the monolingual baseline, or 1)"
        )


def _no_duplicates(path: Path, what: str, codes: list[str]) -> None:
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise MatrixError(f"{path}: {what} list {', '.join(dupes)} more than once")


def _number(path: Path, source: str, target: str, cell: str, blank: bool = False) -> float:
    text = cell.strip()
    where = f"{path}: cell {source}→{target} (row {source}, column {target})"
    if text.lower() in EMPTY:
        if source == target or blank:
            return math.nan
        raise MatrixError(f"{where} is empty; only the diagonal may be")
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise MatrixError(f"{where} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise MatrixError(f"{where} is not finite: {text!r}")
    return value


def detect_kind(values: np.ndarray) -> tuple[str, str]:
    """Tell the ratio MRR_st / MRR_t from F in percent, by the off-diagonal values.

    Ratios are positive and centred on 1; F in percent is centred on 0 and spans tens.
    Fractions (F / 100) look like small percents, so they are only flagged, never guessed.
    """
    off = values[~np.eye(len(values), dtype=bool)]
    low, high, median = float(off.min()), float(off.max()), float(np.median(off))
    if low > 0 and high < 10 and 0.5 <= median <= 2:
        return "ratio", (
            f"all off-diagonal cells are positive ({low:.3g} to {high:.3g}) with "
            f"median {median:.3g}, as MRR ratios are; read as MRR_st / MRR_t"
        )
    reason = (
        f"off-diagonal cells span {low:.3g} to {high:.3g} with median {median:.3g}; "
        "read as F in percent"
    )
    if max(abs(low), abs(high)) <= 1.5:
        reason += (
            " (every |value| ≤ 1.5: if these are fractions of F, pass --kind "
            "fraction; if raw MRRs with the monolingual MRR on the diagonal, --kind mrr)"
        )
    return "percent", reason


def to_percent(values: np.ndarray, kind: str) -> np.ndarray:
    if kind == "percent":
        return values.copy()
    if kind == "fraction":
        return values * 100.0
    if kind == "ratio":
        return (values - 1.0) * 100.0
    if kind == "mrr":  # F(s→t) = (MRR_st − MRR_tt) / MRR_tt, the diagonal being M_t
        diagonal = np.diag(values)[None, :]
        return 100.0 * (values - diagonal) / diagonal
    raise MatrixError(f"unknown matrix kind {kind!r}; expected one of {', '.join(KINDS)}")


def read_mono_mrr(path: str | Path) -> dict[str, float]:
    """Monolingual MRR per language: our ``metrics/scores.json`` (its ``mono_mrr``), a JSON
    object of code → MRR, or a CSV with a header and rows ``code,mrr``."""
    path = Path(path)
    if not path.is_file():
        raise MatrixError(f"{path}: no such file")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MatrixError(f"{path}: not valid JSON ({e})") from None
        data = data.get("mono_mrr", data) if isinstance(data, dict) else data
        if not isinstance(data, dict):
            raise MatrixError(f"{path}: expected an object of language code → MRR")
        items = list(data.items())
    else:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if table.shape[1] < 2:
            raise MatrixError(f"{path}: expected a header and rows of language code, MRR")
        items = list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    out = {}
    for code, value in items:
        code = _code(path, f"language {code!r}", str(code))
        try:
            out[code] = float(value)
        except (TypeError, ValueError):
            raise MatrixError(f"{path}: MRR of {code} is not a number: {value!r}") from None
    return out


def read_measured(path: str | Path) -> pd.DataFrame:
    """The estimate's mask (metrics/estimate/measured.csv): True where the pair was
    trained, False where its F was estimated."""
    return pd.read_csv(path, index_col=0).astype(bool)
