"""Pair covariates known before any pair is trained: shared script, shared family.

They enter the estimate of unmeasured cells (``graph.estimate``) as β·x_st. The study
tests both against the transfer bins (§5); here they only have to predict. A covariate
that is the same for every pair (one script throughout) carries nothing and is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bloodbank.core.languages import shares_family, shares_script


def pair_covariates(langs: list[str]) -> dict[str, pd.DataFrame]:
    """``same_script`` and ``same_family`` as 0/1 source × target frames."""
    out = {}
    for name, test in (("same_script", shares_script), ("same_family", shares_family)):
        frame = pd.DataFrame(
            [[float(test(s, t)) for t in langs] for s in langs], index=langs, columns=langs
        )
        off = frame.to_numpy()[~np.eye(len(langs), dtype=bool)]
        if off.size and off.min() != off.max():
            out[name] = frame
    return out
