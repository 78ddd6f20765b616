"""Covariates of a pair known before any pair is trained.

- ``same_script``, ``same_family``: 0/1 (the study tests both against the transfer bins,
  §5; here they only have to predict), the mean where a language's is unknown;
- ``syntax_distance``: the share of URIEL syntax features (lang2vec) on which the two
  languages differ, over those known for both; for synthetic languages, over the four
  features the registry declares. A pair with nothing in common to compare gets the mean;
- ``mono_source``, ``mono_target``: each side's monolingual MRR (log, standardised), which
  the mono stages give for free. The study finds low-MRR languages receive most and
  high-MRR ones donate more (its Figure 4 and Table 7);
- ``zeroshot_fit``, ``lexical_overlap``: the proxies of ``graph.proxies``, from the
  zeroshot and overlap stages, when given; from 10 languages on, each with its
  low-rank part beside it (``<proxy>_structure``, ``graph.proxies.structure``): the
  pattern the proxy shows across whole rows and columns, freed of its cell noise.

They enter the estimate of unmeasured cells (``graph.estimate``) as β·x_st. A covariate
that is the same for every pair (one script throughout) carries nothing and is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bloodbank import typology as uriel
from bloodbank.core.languages import shared
from bloodbank.graph.proxies import STRUCTURE, structure


def pair_covariates(
    langs: list[str],
    mono: pd.Series | None = None,
    typology: bool = True,
    *,
    proxies: dict[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Source × target frames by name, most informative first (an estimate with few
    cells keeps a prefix); ``mono`` is each language's monolingual MRR; ``proxies`` are
    covariate frames of ``graph.proxies``; ``typology`` adds script, family and syntax
    (registry codes only)."""
    frames = {}
    if mono is not None:
        z = np.log(mono.loc[langs].astype(float))
        z = (z - z.mean()) / (z.std() or 1.0)
        frames["mono_source"] = _frame(langs, lambda s, t: float(z[s]))
        frames["mono_target"] = _frame(langs, lambda s, t: float(z[t]))
    for name, frame in (proxies or {}).items():
        frames[name] = frame.loc[langs, langs].astype(float)
        low = structure(frames[name])
        if low is not None:
            frames[name + STRUCTURE] = low
    if typology:
        for what in ("script", "family"):
            frames[f"same_{what}"] = _filled(_frame(langs, lambda s, t, w=what: _shared(s, t, w)))
        frames["syntax_distance"] = _filled(_frame(langs, _syntax_distance))
    off = ~np.eye(len(langs), dtype=bool)
    return {n: f for n, f in frames.items() if off.any() and np.ptp(f.to_numpy()[off]) > 0}


def _frame(langs: list[str], value) -> pd.DataFrame:
    return pd.DataFrame([[value(s, t) for t in langs] for s in langs], index=langs, columns=langs)


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    """Unknown distances (NaN) as the mean of the known ones, 0 if none is known."""
    mean = np.nanmean(frame.to_numpy()) if frame.notna().to_numpy().any() else 0.0
    return frame.fillna(mean)


def _shared(a: str, b: str, what: str) -> float:
    """1 or 0; NaN where a script or family is unknown (filled with the mean)."""
    found = shared(a, b, what)
    return np.nan if found is None else float(found)


def _syntax_distance(a: str, b: str) -> float:
    try:
        return uriel.syntactic_distance(a, b)
    except uriel.TypologyUnavailable:
        return np.nan
