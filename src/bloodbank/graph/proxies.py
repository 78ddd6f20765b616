"""Cheap evidence about pairs, read as covariates, and how much of F it explains.

Two proxies need no pair training (issue 32): zero-shot fit, the MRR of M_s on t's test
sentences (the zeroshot stages), and lexical overlap of the two samples (the overlap
stage). As covariates of the estimate (``graph.covariates``), zero-shot fit enters as
log(MRR of M_s on t / MRR of M_t on t), standardised: t's own model on the same
sentences is the yardstick, so the figure says how close s's model already comes.

F's *pair-specific part* is what a source effect plus a target effect leave over:
the additive model's residual over the off-diagonal cells. A proxy that only ranks
good donors or easy targets is already in the additive model; :func:`explained` says how
much of the residual each covariate predicts once it too is freed of its additive part.

A proxy is known for every pair, so its own pair-specific part can be read across the
whole matrix, not only where pairs were trained. What recurs over a whole row and column
(a few strong singular components) is signal shared by many pairs; what does not is the
proxy's noise. :func:`structure` keeps the components above the optimal hard threshold
for singular values of Gavish and Donoho (IEEE Trans. Inf. Theory, 2014; noise level
unknown, estimated from the median singular value), and the estimate takes that low-rank
part as a covariate of its own beside the raw proxy (``graph.covariates``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.io import read_json


def read_zeroshot(langs: list[str], path_of: Callable[[str], Path]) -> pd.DataFrame:
    """Sources × targets MRR of each mono model on each language (diagonal: own model)."""
    rows = {}
    for src in langs:
        found = read_json(path_of(src))
        missing = [t for t in langs if t not in found["targets"]]
        if missing:
            raise FileNotFoundError(
                f"{path_of(src)}: no zero-shot score on {', '.join(missing)}: rerun `dvc repro`"
            )
        rows[src] = [found["targets"][t]["mrr"] for t in langs]
    return pd.DataFrame.from_dict(rows, orient="index", columns=langs)


def read_overlap(langs: list[str], path: Path) -> pd.DataFrame:
    """The overlap stage's matrix for ``langs``, in their order."""
    frame = pd.read_csv(path, index_col=0)
    missing = sorted(set(langs) - set(frame.index))
    if missing:
        raise FileNotFoundError(f"{path}: no overlap for {', '.join(missing)}: rerun `dvc repro`")
    return frame.loc[langs, langs].astype(float)


def read_proxies(
    langs: list[str], zeroshot: Callable[[str], Path], overlap: Path
) -> dict[str, pd.DataFrame]:
    """The zeroshot and overlap stages' outputs as the estimate's covariate frames."""
    return proxy_covariates(read_zeroshot(langs, zeroshot), read_overlap(langs, overlap))


def zeroshot_fit(mrr: pd.DataFrame) -> pd.DataFrame:
    """log(MRR of M_s on t / MRR of M_t on t): 0 where s's model fits t as well as t's own."""
    own = pd.Series(np.diag(mrr.to_numpy()), index=mrr.columns)
    return np.log(mrr.astype(float) / own[mrr.columns].to_numpy()[None, :])


def proxy_covariates(
    zeroshot: pd.DataFrame | None = None, overlap: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """The proxies given, as the estimate's covariate frames (standardised off the
    diagonal, so that their coefficients compare)."""
    frames = {}
    if zeroshot is not None:
        frames["zeroshot_fit"] = _standardised(zeroshot_fit(zeroshot))
    if overlap is not None:
        frames["lexical_overlap"] = _standardised(overlap.astype(float))
    return frames


def _standardised(frame: pd.DataFrame) -> pd.DataFrame:
    values = frame.to_numpy(dtype=float).copy()
    off = ~np.eye(len(values), dtype=bool)
    sd = values[off].std()
    values = (values - values[off].mean()) / (sd if sd > 0 else 1.0)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def pair_specific(frame: pd.DataFrame, *, rounds: int = 200) -> np.ndarray:
    """The additive model's residual, n × n (NaN on the diagonal and where ``frame``
    is NaN): F less a source effect and a target effect, fitted by least squares over
    the known off-diagonal cells (alternating row and column means, which converge to
    it)."""
    values = frame.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    resid = values - np.nanmean(values)
    for _ in range(rounds):
        row = np.nanmean(resid, axis=1, keepdims=True)
        resid = resid - np.nan_to_num(row)
        col = np.nanmean(resid, axis=0, keepdims=True)
        resid = resid - np.nan_to_num(col)
        if max(np.nanmax(np.abs(row)), np.nanmax(np.abs(col))) < 1e-10:
            break
    return resid


def explained(f: pd.DataFrame, covariates: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """For each covariate, and for the proxies and the typological covariates together
    (``proxies_together``, ``typology_together``): the share of F's pair-specific
    variance it predicts (R² of a least-squares fit of the residual on the covariates'
    own pair-specific parts, over the measured off-diagonal cells), and each
    covariate's Spearman correlation with F itself."""
    target = pair_specific(f)
    cells = ~np.isnan(target)
    parts = {
        name: pair_specific(frame.where(f.notna()))[cells] for name, frame in covariates.items()
    }
    rows = {name: _r2(target[cells], [part]) for name, part in parts.items()}
    groups = {
        "proxies_together": [n for n in parts if n.removesuffix(STRUCTURE) in PROXIES],
        "typology_together": [n for n in parts if n in TYPOLOGY],
    }
    for group, names in groups.items():
        if len(names) > 1:
            rows[group] = _r2(target[cells], [parts[n] for n in names])
    out = pd.DataFrame({"pair_specific_r2": pd.Series(rows)})
    flat = f.to_numpy(dtype=float)[cells]
    out["spearman_with_f"] = pd.Series(
        {
            name: _spearman(frame.to_numpy(dtype=float)[cells], flat)
            for name, frame in covariates.items()
        }
    )
    return out


STRUCTURE = "_structure"  # the suffix of a proxy's low-rank part among the covariates
MIN_STRUCTURE = 10  # languages below which a proxy's structure is not read: the threshold
# rests on the spread of the noise's singular values, which a few languages cannot show
_OMEGA = 2.858  # Gavish and Donoho's ω(β) at β = 1 (a square matrix), unknown noise


def structure(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The low-rank part of ``frame``'s pair-specific part, or None where it has none.

    The additive model's residual (diagonal 0) is split by its singular values; those
    above ω·median(σ) are kept. With fewer than ``MIN_STRUCTURE`` languages, or no
    component above the threshold, there is nothing to add to the raw proxy."""
    n = len(frame)
    if n < MIN_STRUCTURE:
        return None
    resid = np.nan_to_num(pair_specific(frame))
    u, sigma, vt = np.linalg.svd(resid)
    keep = sigma > _OMEGA * np.median(sigma)
    if not keep.any():
        return None
    low = (u[:, keep] * sigma[keep]) @ vt[keep]
    return pd.DataFrame(low, index=frame.index, columns=frame.columns)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


PROXIES = ("zeroshot_fit", "lexical_overlap")
TYPOLOGY = ("same_script", "same_family", "syntax_distance")


def _r2(y: np.ndarray, columns: list[np.ndarray]) -> float:
    """R² of y on the columns (no intercept: both sides are residuals, mean 0)."""
    x = np.column_stack(columns)
    keep = np.isfinite(x).all(axis=1) & np.isfinite(y)
    if keep.sum() <= x.shape[1] or not (y[keep] ** 2).sum():
        return float("nan")
    coef, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
    return float(1 - ((y[keep] - x[keep] @ coef) ** 2).sum() / (y[keep] ** 2).sum())
