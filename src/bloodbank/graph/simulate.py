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

``oracle`` completes a partly measured world the way an estimator that knows how the
world was drawn would: a ceiling for any estimate from the same cells and proxies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SOURCE_SD, TARGET_SD = 9.0, 18.0  # Table 5's spreads of the language effects (F, points)
NOISE_SD = 2.3  # Table 6's median seed-to-seed sd of a cell, in points of F
MEAN_F = 10.0  # the mean transfer off the diagonal, in points of F


@dataclass(frozen=True)
class Recipe:
    """How a world was drawn, in points of F: what ``oracle`` knows and no estimate can."""

    z: np.ndarray  # standardised log monolingual MRR
    rho: tuple[float, float]  # correlation of the source and of the target effects with z
    rank1: np.ndarray  # the pair-specific part's first component (n × n)
    rest: np.ndarray  # the pair-specific part's unstructured rest (n × n)
    noise: float  # seed noise sd of a cell
    proxy_r2: tuple[float, ...]
    proxy_own: tuple[np.ndarray, ...]  # each proxy's own additive effects (n × n)

    @property
    def specific_sd(self) -> float:
        """The pair-specific part's sd: a proxy reads that part divided by it."""
        off = ~np.eye(len(self.z), dtype=bool)
        return float(np.sqrt(_var(self.rank1 + self.rest, off)))


@dataclass(frozen=True)
class World:
    truth: pd.DataFrame  # the expected F (no seed noise), diagonal 0
    measured: pd.DataFrame  # one full run: the truth plus seed noise
    twin: pd.DataFrame  # another full run of the same world (another seed's noise)
    mono: pd.Series  # monolingual MRR by language
    proxies: dict[str, pd.DataFrame]  # name → source × target proxy values
    recipe: Recipe


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
    low, rest = _pair_specific(n, rng, rank1_share)
    specific = low + rest
    scale = np.sqrt(_var(additive, off) * (1 - additive_share) / additive_share)
    scale /= np.sqrt(_var(specific, off))
    low, rest, specific = low * scale, rest * scale, specific * scale
    truth = np.where(off, MEAN_F + additive + specific, 0.0)

    def run() -> np.ndarray:
        return np.where(off, truth + noise * rng.standard_normal((n, n)), 0.0)

    proxies, owns = {}, []
    for k, r2 in enumerate(proxy_r2):
        signal = specific / np.sqrt(_var(specific, off))
        reading = np.sqrt(r2) * signal + np.sqrt(1 - r2) * rng.standard_normal((n, n))
        owns.append(rng.standard_normal((n, 1)) + rng.standard_normal((1, n)))  # the proxy's
        proxies[f"proxy{k}"] = _frame(reading + owns[-1], langs)  # own additive effects
    recipe = Recipe(z, rho, low, rest, noise, tuple(proxy_r2), tuple(owns))
    measured, twin = _frame(run(), langs), _frame(run(), langs)
    return World(_frame(truth, langs), measured, twin, mono, proxies, recipe)


def oracle(world: World, seen: pd.DataFrame, *, proxies: bool = True) -> pd.DataFrame:
    """``seen`` (NaN where a pair was not trained) completed by the posterior mean of an
    estimator that knows the world's recipe: the pair-specific part's first component
    exactly, each proxy's own effects and how much it reads of the rest, the language
    effects' spreads and their correlation with monolingual MRR, and the seed noise.
    Only the language effects and the unstructured rest are left to infer, which it
    does exactly (a Gaussian linear model). No estimate from the same cells and proxies
    can expect to do better, so it measures what a world's information allows; with
    ``proxies`` false it ignores them, as an estimate that has none."""
    r = world.recipe
    n = len(r.z)
    off = ~np.eye(n, dtype=bool)
    known, left = _known_pair_part(world, proxies)
    y = seen.to_numpy(dtype=float) - known
    cells = off & ~np.isnan(y)
    rows, cols = np.nonzero(cells)
    # normal equations of the source and target effects, each with its prior from z
    prior_sd = np.array([SOURCE_SD, TARGET_SD])
    means = [sd * rho * r.z for sd, rho in zip(prior_sd, r.rho, strict=True)]
    prec = [1 / (sd**2 * (1 - rho**2)) for sd, rho in zip(prior_sd, r.rho, strict=True)]
    weight = 1 / (left + r.noise**2)
    a = np.zeros((2 * n, 2 * n))
    b = np.concatenate([prec[0] * means[0], prec[1] * means[1]])
    np.add.at(a, (rows, rows), weight)
    np.add.at(a, (n + cols, n + cols), weight)
    np.add.at(a, (rows, n + cols), weight)
    np.add.at(a, (n + cols, rows), weight)
    a[np.arange(n), np.arange(n)] += prec[0]
    a[n + np.arange(n), n + np.arange(n)] += prec[1]
    np.add.at(b, rows, weight * y[cells])
    np.add.at(b, n + cols, weight * y[cells])
    effects = np.linalg.solve(a, b)
    fitted = known + effects[:n, None] + effects[None, n:]
    filled = np.where(cells, seen.to_numpy(dtype=float), fitted)
    return pd.DataFrame(np.where(off, filled, 0.0), index=seen.index, columns=seen.columns)


def _known_pair_part(world: World, proxies: bool) -> tuple[np.ndarray, float]:
    """What the oracle knows of each cell beyond the language effects (the mean, the first
    component, the proxies' reading of the rest) and the variance left in the rest."""
    r = world.recipe
    sd = r.specific_sd
    off = ~np.eye(len(r.z), dtype=bool)
    prior = _var(r.rest, off) / sd**2  # the rest's variance, in the proxies' units
    precision, pull = 1 / prior, np.zeros_like(r.rest)
    readings = zip(r.proxy_r2, r.proxy_own, world.proxies.values(), strict=True)
    for r2, own, value in readings if proxies else ():
        r2 = min(r2, 0.999)
        # what is left of the proxy: sqrt(r2) rest / sd plus the proxy's own noise
        reading = value.to_numpy() - own - np.sqrt(r2) * r.rank1 / sd
        precision += r2 / (1 - r2)
        pull += np.sqrt(r2) * reading / (1 - r2)
    return MEAN_F + r.rank1 + sd * pull / precision, sd**2 / precision


def _pair_specific(
    n: int, rng: np.random.Generator, rank1_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Residual-shaped: double-centred, a rank-1 part with ``rank1_share`` of its
    variance and an unstructured rest, returned apart."""
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    low = _centred(np.outer(u - u.mean(), v - v.mean()))
    rest = _centred(rng.standard_normal((n, n)))
    low /= np.sqrt(np.mean(low**2))
    rest /= np.sqrt(np.mean(rest**2))
    return np.sqrt(rank1_share) * low, np.sqrt(1 - rank1_share) * rest


def _centred(m: np.ndarray) -> np.ndarray:
    return m - m.mean(axis=0, keepdims=True) - m.mean(axis=1, keepdims=True) + m.mean()


def _var(m: np.ndarray, off: np.ndarray) -> float:
    return float(np.var(m[off]))


def _frame(values: np.ndarray, langs: list[str]) -> pd.DataFrame:
    return pd.DataFrame(values, index=langs, columns=langs)
