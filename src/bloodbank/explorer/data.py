"""What the explorer shows, computed without Streamlit: loading, filters, collapsing by a
feature, thresholded edges and per-language cards. The app only lays these out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank import typology
from bloodbank.core import languages
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import read_json
from bloodbank.graph import planted
from bloodbank.graph.analysis import analyse, donation, recipience
from bloodbank.graph.matrix_io import (
    BASELINES,
    MatrixError,
    TransferMatrix,
    read_matrix,
    read_measured,
    read_mono_mrr,
)

ESTIMATE = Path("metrics/estimate")  # completed matrices and the mask of measured cells
SCORES_JSON = Path("metrics/scores.json")
TRUTH = Path("metrics/truth.csv")  # a synthetic world's planted truth (the truth stage)
GRAPH_JSON = Path("metrics/graph.json")  # what the graph stage recorded


class ExplorerError(BloodbankError, ValueError):
    """Input the explorer cannot show; the message says what to do."""


@dataclass(frozen=True)
class Bank:
    """A transfer matrix with everything the views need about its languages."""

    matrix: TransferMatrix
    mono: dict[str, float]
    analysis: dict  # of the full matrix: types and ranks do not move with filters
    features: dict[str, dict[str, str]]
    origin: str
    truth: pd.DataFrame | None = None  # planted truth, percent: synthetic worlds only
    baseline: str = "mono"  # which F the matrix is (graph.planted's column name)
    recovery_slack: float | None = planted.RECOVERY_SLACK  # the pipeline's pair recipe's

    @property
    def langs(self) -> list[str]:
        return self.matrix.langs


def _bank(matrix: TransferMatrix, mono: dict[str, float], origin: str, **extra) -> Bank:
    analysis = analyse(matrix, mono or None, resamples=199)
    features = typology.features(matrix.langs, detailed=True)
    return Bank(matrix, mono, analysis, features, origin, **extra)


def load_outputs(root: str | Path, baseline: str = "mono") -> Bank:
    """The pipeline's own outputs under ``root`` (a checkout after ``dvc repro``)."""
    root = Path(root)
    if not root.is_dir():
        raise ExplorerError(
            f"{root}: no such folder; pass the repository root where "
            "`dvc repro` ran, or open a matrix CSV instead"
        )
    path = root / ESTIMATE / f"finetune_scores{BASELINES[baseline]}.csv"
    if not path.is_file():
        raise ExplorerError(
            f"{path}: not found; run `dvc repro` in {root} first (the "
            "`estimate` stage writes it), or open a matrix CSV instead"
        )
    with reading(path):
        matrix = read_matrix(path, kind="percent")
    with reading(measured := root / ESTIMATE / "measured.csv"):
        mask = read_measured(measured).loc[matrix.langs, matrix.langs]
    if not mask.to_numpy()[matrix.off_diagonal()].all():  # dotted edges: estimated
        matrix = replace(matrix, measured=mask.to_numpy())
    mono = mono_mrr(root / SCORES_JSON) if (root / SCORES_JSON).is_file() else {}
    with reading(root / TRUTH):
        truth = planted.read_truth(root / TRUTH)
    origin = f"pipeline outputs in {root} ({baseline} baseline)"
    slack = pipeline_slack(root / GRAPH_JSON)
    return _bank(matrix, mono, origin, truth=truth, baseline=baseline, recovery_slack=slack)


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Whatever reading ``path`` raises, as one line that names the file."""
    try:
        yield
    except (MatrixError, KeyError, ValueError, TypeError) as e:
        message = str(e)
        raise ExplorerError(message if str(path) in message else f"{path}: {message}") from None


def mono_mrr(scores_json: Path) -> dict[str, float]:
    """The monolingual MRR of each language, as the scores stage recorded it."""
    with reading(scores_json):
        mono = read_json(scores_json)["mono_mrr"]
    valid = isinstance(mono, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in mono.values()
    )
    if not valid:
        raise ExplorerError(
            f"{scores_json}: mono_mrr must map each language to its MRR (a number), "
            f"not {json.dumps(mono)[:80]}"
        )
    return mono


def pipeline_slack(graph_json: Path) -> float | None:
    """The recovery check's bar the graph stage used, as metrics/graph.json records it
    (not today's params.yaml); the full-recipe bar when the file holds none."""
    try:
        return read_json(graph_json)["planted_truth"]["recovery_slack"]
    except (OSError, ValueError, KeyError, TypeError):
        return planted.RECOVERY_SLACK


def truth_comparison(bank: Bank, langs: list[str]) -> tuple[pd.DataFrame, dict] | None:
    """The planted truth beside F over the ordered pairs of the shown ``langs``: the table
    (most related first) and Spearman ρ, its ceiling, the recovery check and the lexical
    slope, exactly as the graph report computes them (``graph.planted``). None without a
    truth."""
    if bank.truth is None:
        return None
    shown = [c for c in langs if c in bank.truth.index and c in bank.truth.columns]
    if len(shown) < 2:
        return None
    idx = [bank.langs.index(c) for c in shown]
    f = pd.DataFrame(bank.matrix.f[np.ix_(idx, idx)], index=shown, columns=shown)
    table = planted.cells(bank.truth.loc[shown, shown], {bank.baseline: f})
    comparison = planted.compare(table, [bank.baseline], bank.recovery_slack)
    comparison["lexical_slope"] = planted.lexical_slope(bank.truth.loc[shown, shown], f)
    return table, comparison


def load_csv(
    path: str | Path,
    mono_path: str | Path | None = None,
    kind: str = "auto",
    transpose: bool = False,
) -> Bank:
    """Any matrix that ``lbb graph --matrix`` accepts, with optional monolingual MRRs."""
    try:
        matrix = read_matrix(path, kind, transpose)  # type: ignore[arg-type]
        mono = read_mono_mrr(mono_path) if mono_path else (matrix.diagonal_mrr or {})
    except (MatrixError, ValueError) as e:
        raise ExplorerError(str(e)) from None
    return _bank(matrix, mono, f"{path} (read as {matrix.kind})")


def facets(bank: Bank) -> dict[str, list[str]]:
    """Values present for each filterable property: family, script and every feature."""
    out: dict[str, set[str]] = {"family": set(), "script": set()}
    for code in bank.langs:
        lang = languages.get(code)
        out["family"].add(lang.family)
        out["script"].update(languages.scripts(code))
        for name, value in bank.features[code].items():
            out.setdefault(name, set()).add(value)
    return {k: sorted(v) for k, v in out.items()}


def prop(bank: Bank, code: str, name: str) -> str:
    lang = languages.get(code)
    if name in ("family", "script"):
        return getattr(lang, name)
    return bank.features[code].get(name, typology.UNKNOWN)


def values(bank: Bank, code: str, name: str) -> frozenset[str]:
    """A language's values of a property, for the filters: a biscriptal language has two
    scripts, and keeping or hiding either one keeps or hides it."""
    if name == "script":
        return languages.scripts(code)
    return frozenset({prop(bank, code, name)})


def select(
    bank: Bank,
    langs: list[str] | None = None,
    keep: dict[str, list[str]] | None = None,
    hide: dict[str, list[str]] | None = None,
) -> list[str]:
    """Languages left after the filters, in matrix order. ``keep`` maps a property to the
    values to keep (empty: all); ``hide`` to values to hide."""
    chosen = [c for c in bank.langs if not langs or c in langs]
    for name, wanted in (keep or {}).items():
        if wanted:
            chosen = [c for c in chosen if values(bank, c, name) & set(wanted)]
    for name, hidden in (hide or {}).items():
        chosen = [c for c in chosen if not values(bank, c, name) & set(hidden)]
    return chosen


def submatrix(bank: Bank, langs: list[str]) -> TransferMatrix:
    idx = [bank.langs.index(c) for c in langs]
    m = bank.matrix
    return TransferMatrix(list(langs), m.f[np.ix_(idx, idx)], m.kind, m.kind_reason)


def margins(m: TransferMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Donation and recipience within the shown languages."""
    return donation(m.f), recipience(m.f)


def order(m: TransferMatrix, by: str) -> list[str]:
    """Languages sorted for the heatmap: as given, or by donation / recipience (high first)."""
    if by == "matrix":
        return list(m.langs)
    d, r = margins(m)
    key = d if by == "donation" else r
    return [m.langs[i] for i in sorted(range(len(m.langs)), key=lambda i: (-key[i], i))]


def reorder(m: TransferMatrix, langs: list[str]) -> TransferMatrix:
    idx = [m.langs.index(c) for c in langs]
    return TransferMatrix(list(langs), m.f[np.ix_(idx, idx)], m.kind, m.kind_reason)


def collapse(bank: Bank, langs: list[str], feature: str) -> tuple[list[str], np.ndarray]:
    """Mean F(s→t) from each value group of ``feature`` to each other (s ≠ t), as the
    study's explorer did. Returns the group labels and the group × group matrix."""
    groups = sorted({prop(bank, c, feature) for c in langs})
    sub = submatrix(bank, langs)
    member = np.array([groups.index(prop(bank, c, feature)) for c in langs])
    off = ~np.eye(len(langs), dtype=bool)
    out = np.full((len(groups), len(groups)), np.nan)
    for a in range(len(groups)):
        for b in range(len(groups)):
            cells = off & (member[:, None] == a) & (member[None, :] == b)
            if cells.any():
                out[a, b] = float(sub.f[cells].mean())
    return groups, out


def edges(m: TransferMatrix, threshold: float) -> list[tuple[str, str, float]]:
    """Directed edges s→t with |F| ≥ threshold, strongest first."""
    out = [
        (s, t, float(m.f[i, j]))
        for i, s in enumerate(m.langs)
        for j, t in enumerate(m.langs)
        if i != j and abs(m.f[i, j]) >= threshold
    ]
    return sorted(out, key=lambda e: (-abs(e[2]), e[0], e[1]))


def card(bank: Bank, code: str, k: int = 3) -> dict:
    """What a language card shows: its best donors, best recipients and properties."""
    i = bank.langs.index(code)
    lang = languages.get(code)
    incoming = sorted(
        ((s, float(bank.matrix.f[j, i])) for j, s in enumerate(bank.langs) if j != i),
        key=lambda x: -x[1],
    )
    outgoing = sorted(
        ((t, float(bank.matrix.f[i, j])) for j, t in enumerate(bank.langs) if j != i),
        key=lambda x: -x[1],
    )
    info = bank.analysis["languages"][code]
    return {
        "code": code,
        "name": lang.name,
        "family": lang.family,
        "script": lang.script,
        "type": info["type"],
        "donation": info["donation"],
        "recipience": info["recipience"],
        "mono_mrr": bank.mono.get(code),
        "best_donors": incoming[:k],
        "best_recipients": outgoing[:k],
        "features": {n: v for n, v in bank.features[code].items() if n in typology.CATEGORICAL},
    }


def matrix_csv(labels: list[str], values: np.ndarray) -> str:
    """The shown matrix as CSV, in the layout ``lbb graph --matrix`` reads back."""
    rows = ["source," + ",".join(labels)]
    rows += [
        f"{s}," + ",".join("" if np.isnan(v) else f"{v:.4f}" for v in row)
        for s, row in zip(labels, values, strict=True)
    ]
    return "\n".join(rows) + "\n"
