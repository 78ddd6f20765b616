"""The estimate stage's work: complete both F matrices and write them beside a mask.

``metrics/estimate/`` holds, for F against the monolingual baseline and against the
compute-matched one (suffix ``_matched``): the completed matrix in the scores' own CSV
format (so ``graph``, the report and the explorer read it unchanged), the 90% interval
of every cell, and the per-language table (D and R with intervals, rank intervals,
blood-type probabilities). ``measured.csv`` marks the cells that were trained (1) and
those estimated (0). With every pair measured, the completed matrix is the measured one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.config import EstimateConfig
from bloodbank.core.io import atomic_path
from bloodbank.graph.covariates import pair_covariates
from bloodbank.graph.estimate import NONE, Estimate, EstimateError, Settings, estimate
from bloodbank.graph.finetune_scores import write_matrix
from bloodbank.graph.matrix_io import BASELINES, read_scores
from bloodbank.graph.proxies import explained


def settings_for(cfg: EstimateConfig, seed: int) -> Settings:
    return Settings(
        ranks=tuple(cfg.ranks),
        shrinks=tuple(cfg.shrinks),
        effects=tuple(cfg.effects),
        covariate_shrinks=tuple(cfg.covariate_shrinks),
        folds=cfg.folds,
        draws=cfg.draws,
        seed=seed,
    )


@dataclass
class Completed:
    estimates: dict[str, Estimate | None]  # by baseline; None: no cell to start from

    def summary(self) -> dict:
        """metrics/estimate.json: what was measured, the model chosen, the error."""
        out: dict = {}
        for name, est in self.estimates.items():
            if est is None:
                out[name] = {"available": False}
                continue
            n = len(est.langs)
            measured = int(est.measured.to_numpy().sum())
            out[name] = {
                "available": True,
                "measured_pairs": measured,
                "pairs": n * (n - 1),
                "fraction_measured": round(measured / (n * (n - 1)), 4),
                "rank": None if est.model == NONE else est.model.rank,
                "shrink": None if est.model == NONE else round(est.model.shrink, 4),
                "effects_penalty": None if est.model == NONE else est.model.effects,
                "covariates": est.covariates,
                "prediction_sd": round(est.prediction_sd, 4),
            }
        return out


def complete(
    matrices: dict[str, pd.DataFrame],
    cfg: EstimateConfig,
    seed: int,
    mono: dict[str, float] | None = None,
    *,
    proxies: dict[str, pd.DataFrame] | None = None,
    sources: dict[str, Path] | None = None,
) -> Completed:
    """Estimate every matrix of ``matrices`` (by baseline) with the same settings;
    ``mono`` (monolingual MRR by language) enters the covariates when given, and so do
    ``proxies`` (``graph.proxies.proxy_covariates``) under ``estimate.proxies``; an
    error names the matrix's file in ``sources`` when given."""
    settings = settings_for(cfg, seed)
    langs = list(next(iter(matrices.values())).index)
    known = pd.Series(mono) if mono and set(langs) <= set(mono) else None
    given = proxies if cfg.proxies else None
    covariates = (
        pair_covariates(langs, known, proxies=given)
        if cfg.covariates
        else pair_covariates(langs, None, typology=False, proxies=given) or None
    )
    out: dict[str, Estimate | None] = {}
    for name, frame in matrices.items():
        off = ~np.eye(len(frame), dtype=bool)
        if np.isnan(frame.to_numpy()[off]).all():
            out[name] = None
            continue
        try:
            out[name] = estimate(frame, covariates, settings)
        except EstimateError as e:
            if sources is None:
                raise
            raise EstimateError(f"{sources[name]}: {e}") from None
    return Completed(out)


def complete_files(
    files: dict[str, Path],
    cfg: EstimateConfig,
    seed: int,
    mono: dict[str, float] | None = None,
    *,
    proxies: dict[str, pd.DataFrame] | None = None,
) -> Completed:
    """:func:`complete` on the score files ``files`` (by baseline), read and checked cell
    by cell; an error names the file it is about."""
    matrices = {name: read_scores(path) for name, path in files.items()}
    langs = [list(m.index) for m in matrices.values()]
    if any(ls != langs[0] for ls in langs):
        raise EstimateError(f"{', '.join(map(str, files.values()))}: not the same languages")
    done = complete(matrices, cfg, seed, mono, proxies=proxies, sources=files)
    if all(est is None for est in done.estimates.values()):
        first = next(iter(files.values()))
        raise EstimateError(f"{first}: every off-diagonal cell is empty: no pair was measured")
    return done


def write(completed: Completed, folder: Path) -> None:
    """Every file of ``metrics/estimate/`` (atomically, one by one)."""
    for name, est in completed.estimates.items():
        suffix = BASELINES[name]
        if est is None:
            continue
        low, high = est.cell_interval()
        write_matrix(folder / f"finetune_scores{suffix}.csv", est.point, digits=2)
        write_matrix(folder / f"interval_low{suffix}.csv", low, digits=2)
        write_matrix(folder / f"interval_high{suffix}.csv", high, digits=2)
        with atomic_path(folder / f"languages{suffix}.csv") as tmp:
            est.summary().to_csv(tmp, float_format="%.4f", lineterminator="\n")
    first = next(e for e in completed.estimates.values() if e is not None)
    write_matrix(folder / "measured.csv", first.measured.astype(int), digits=0)


def explained_by_covariates(
    path: Path, mono: dict[str, float] | None, proxies: dict[str, pd.DataFrame]
) -> dict[str, dict[str, float | None]]:
    """How much of the measured F's pair-specific part (``path``'s cells) each covariate
    and each group predicts, and its Spearman with F (``graph.proxies.explained``):
    every covariate the estimate may use, whatever ``estimate`` keeps."""
    frame = read_scores(path)
    langs = list(frame.index)
    known = pd.Series(mono) if mono and set(langs) <= set(mono) else None
    table = explained(frame, pair_covariates(langs, known, proxies=proxies))
    return {
        name: {k: None if pd.isna(v) else round(float(v), 4) for k, v in row.items()}
        for name, row in table.to_dict(orient="index").items()
    }
