"""The finetune-score matrix F (equation 4 of the study), in percent.

F(s→t) = (MRR(M_st, t) − MRR(M_t, t)) / MRR(M_t, t) · 100, rows are sources and
columns targets. The compute-matched twin divides by MRR(M_tt, t) instead: the
diagonal pair is mono t trained for as many more steps on t, so M_st and M_tt
have seen the same number of updates (the study's M_st saw twice M_t's).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from bloodbank.io import atomic_path


def finetune_scores(pair_mrr: dict[tuple[str, str], float], baseline: dict[str, float],
                    langs: list[str]) -> np.ndarray:
    """``F[i, j]`` for source ``langs[i]`` and target ``langs[j]``, in percent."""
    out = np.full((len(langs), len(langs)), np.nan)
    for i, s in enumerate(langs):
        for j, t in enumerate(langs):
            out[i, j] = 100.0 * (pair_mrr[s, t] - baseline[t]) / baseline[t]
    return out


def matched_baseline(pair_mrr: dict[tuple[str, str], float], langs: list[str]
                     ) -> dict[str, float]:
    return {t: pair_mrr[t, t] for t in langs}


def matrix_csv(matrix: np.ndarray, langs: list[str], digits: int = 4) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["source", *langs])
    for code, row in zip(langs, matrix, strict=True):
        writer.writerow([code, *(f"{v:.{digits}f}" for v in row)])
    return buf.getvalue()


def write_matrix(path: Path, matrix: np.ndarray, langs: list[str], digits: int = 4) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(matrix_csv(matrix, langs, digits), encoding="utf-8")


def summary(langs: list[str], mono: dict[str, float], pair_mrr: dict[tuple[str, str], float],
            scores: np.ndarray, matched: np.ndarray) -> dict:
    off = ~np.eye(len(langs), dtype=bool)

    def nested(m: np.ndarray) -> dict[str, dict[str, float]]:
        return {s: {t: round(float(m[i, j]), 4) for j, t in enumerate(langs)}
                for i, s in enumerate(langs)}

    return {
        "languages": langs,
        "f": nested(scores),
        "f_matched": nested(matched),
        "mono_mrr": mono,
        "pair_mrr": {s: {t: pair_mrr[s, t] for t in langs} for s in langs},
        "mean_f": float(scores[off].mean()) if off.any() else float("nan"),
        "mean_f_matched": float(matched[off].mean()) if off.any() else float("nan"),
        "diagonal_f": {t: float(scores[i, i]) for i, t in enumerate(langs)},
    }
