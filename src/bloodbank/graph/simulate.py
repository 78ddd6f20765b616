"""Simulated transfer matrices with the structure measured on the study's real one.

Issue 32's analysis of the study's published 22 × 22 matrix gives the shape a backtest
world should have, whatever its size:

- a source effect plus a target effect explain 60% of the off-diagonal variance
  (``additive_share``); the study's Table 5 puts the target effects at about twice the
  source effects' spread (sd 18 against 9 points of F);
- of the rest, the pair-specific part, the first singular component holds 35%
  (``rank1_share``), about twice what unstructured noise gives, and the rest is
  unstructured;
- seed noise is small: Table 6's standard deviations give a median of about 2.3 points
  of F (``noise``), so two full runs agree on D at Spearman near 0.99;
- monolingual MRR correlates with the effects (d at +0.5, r at -0.8 with its log);
- a proxy (zero-shot fit, lexical overlap) is a noisy reading of the pair-specific
  part: ``proxy_r2`` is the share of that part's variance it predicts, and it carries
  additive effects of its own, which the estimate's language effects absorb.

Everything is drawn from one seed; the same arguments give the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SOURCE_SD, TARGET_SD = 9.0, 18.0  # Table 5's spreads of the language effects (F, points)
NOISE_SD = 2.3  # Table 6's median seed-to-seed sd of a cell, in points of F


@dataclass(frozen=True)
class World:
    truth: pd.DataFrame  # the expected F (no seed noise), diagonal 0
    measured: pd.DataFrame  # one full run: the truth plus seed noise
    twin: pd.DataFrame  # another full run of the same world (another seed's noise)
    mono: pd.Series  # monolingual MRR by language
    proxies: dict[str, pd.DataFrame]  # name → source × target proxy values


def simulate(
    n: int,
    seed: int,
    *,
    additive_share: float = 0.6,
    rank1_share: float = 0.35,
    noise: float = NOISE_SD,
    proxy_r2: tuple[float, ...] = (),
    rho: tuple[float, float] = (0.5, -0.8),
) -> World:
    """A world of ``n`` languages (codes l000, l001, …) with one proxy per ``proxy_r2``."""
    rng = np.random.default_rng([seed, n, 32])
    langs = [f"l{i:03d}" for i in range(n)]
    off = ~np.eye(n, dtype=bool)
    z = rng.standard_normal(n)  # standardised log monolingual MRR
    mono = pd.Series(np.exp(np.log(0.33) + 0.15 * z), index=langs)

    def effect(sd: float, corr: float) -> np.ndarray:
        return sd * (corr * z + np.sqrt(1 - corr**2) * rng.standard_normal(n))

    additive = effect(SOURCE_SD, rho[0])[:, None] + effect(TARGET_SD, rho[1])[None, :]
    specific = _pair_specific(n, rng, rank1_share)
    scale = np.sqrt(_var(additive, off) * (1 - additive_share) / additive_share)
    specific *= scale / np.sqrt(_var(specific, off))
    truth = np.where(off, 10.0 + additive + specific, 0.0)

    def run() -> np.ndarray:
        return np.where(off, truth + noise * rng.standard_normal((n, n)), 0.0)

    proxies = {}
    for k, r2 in enumerate(proxy_r2):
        signal = specific / np.sqrt(_var(specific, off))
        reading = np.sqrt(r2) * signal + np.sqrt(1 - r2) * rng.standard_normal((n, n))
        own = rng.standard_normal((n, 1)) + rng.standard_normal((1, n))  # the proxy's own
        proxies[f"proxy{k}"] = _frame(reading + own, langs)  # additive effects
    return World(_frame(truth, langs), _frame(run(), langs), _frame(run(), langs), mono, proxies)


def _pair_specific(n: int, rng: np.random.Generator, rank1_share: float) -> np.ndarray:
    """Residual-shaped: double-centred, a rank-1 part with ``rank1_share`` of its
    variance, the rest unstructured."""
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    low = _centred(np.outer(u - u.mean(), v - v.mean()))
    rest = _centred(rng.standard_normal((n, n)))
    low /= np.sqrt(np.mean(low**2))
    rest /= np.sqrt(np.mean(rest**2))
    return np.sqrt(rank1_share) * low + np.sqrt(1 - rank1_share) * rest


def _centred(m: np.ndarray) -> np.ndarray:
    return m - m.mean(axis=0, keepdims=True) - m.mean(axis=1, keepdims=True) + m.mean()


def _var(m: np.ndarray, off: np.ndarray) -> float:
    return float(np.var(m[off]))


def _frame(values: np.ndarray, langs: list[str]) -> pd.DataFrame:
    return pd.DataFrame(values, index=langs, columns=langs)
