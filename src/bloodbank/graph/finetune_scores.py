"""The finetune-score matrix F (equation 4 of the study), in percent.

F(s→t) = (MRR(M_st, t) − MRR(M_t, t)) / MRR(M_t, t) · 100, rows are sources and
columns targets. The compute-matched twin divides by MRR(M_tt, t) instead: the
diagonal pair is mono t trained for as many more steps on t, so M_st and M_tt
have seen the same number of updates (the study's M_st saw twice M_t's).

Matrices are DataFrames indexed by source (``source``) with one column per target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.io import atomic_path


def pair_frame(pair_mrr: dict[tuple[str, str], float], langs: list[str]) -> pd.DataFrame:
    """MRR(M_st, t) as a source × target DataFrame in the order of ``langs``; a pair not
    trained (a design with a subset of the pairs) is NaN, an empty cell in the CSV."""
    frame = pd.DataFrame(
        [[pair_mrr.get((s, t), np.nan) for t in langs] for s in langs],
        index=langs,
        columns=langs,
        dtype=float,
    )
    frame.index.name = "source"
    return frame


def finetune_scores(pair_mrr: pd.DataFrame, baseline: pd.Series) -> pd.DataFrame:
    """F in percent: each target column against its ``baseline`` MRR."""
    return 100.0 * (pair_mrr - baseline) / baseline


def matched_baseline(pair_mrr: pd.DataFrame) -> pd.Series:
    """MRR(M_tt, t): the diagonal, the compute-matched baseline of each target."""
    return pd.Series(np.diag(pair_mrr.to_numpy()), index=pair_mrr.columns)


def write_matrix(path: Path, matrix: pd.DataFrame, digits: int = 4) -> None:
    """CSV with a ``source`` header cell, fixed decimals, written atomically."""
    with atomic_path(path) as tmp:
        matrix.to_csv(tmp, float_format=f"%.{digits}f", index_label="source", lineterminator="\n")


def summary(
    mono: dict[str, float], pair_mrr: pd.DataFrame, scores: pd.DataFrame, matched: pd.DataFrame
) -> dict:
    """metrics/scores.json: every matrix per cell, for `dvc metrics show/diff`."""
    langs = list(pair_mrr.index)
    off = ~np.eye(len(langs), dtype=bool)

    def nested(m: pd.DataFrame, digits: int | None = 4) -> dict[str, dict[str, float]]:
        """Measured cells only: JSON has no NaN, and a pair not trained has no value."""
        return {
            s: {
                t: round(float(v), digits) if digits else float(v)
                for t, v in row.items()
                if not np.isnan(v)
            }
            for s, row in m.iterrows()
        }

    def mean(m: pd.DataFrame) -> float | None:
        cells = m.to_numpy()[off]
        cells = cells[~np.isnan(cells)]
        return float(cells.mean()) if cells.size else None

    return {
        "languages": langs,
        "f": nested(scores),
        "f_matched": nested(matched),
        "mono_mrr": mono,
        "pair_mrr": nested(pair_mrr, None),
        "measured_pairs": int((~np.isnan(pair_mrr.to_numpy()[off])).sum()),
        "mean_f": mean(scores),
        "mean_f_matched": mean(matched),
        "diagonal_f": {t: float(scores.loc[t, t]) for t in langs if not np.isnan(scores.loc[t, t])},
    }
