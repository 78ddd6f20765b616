"""Complete a transfer matrix from a subset of its pairs, with uncertainty.

The model of a finetune score, for an ordered pair s ≠ t:

    F(s→t) = μ + d_s + r_t + β·x_st + u_s·v_t + ε,

an additive part (a source effect, a target effect), covariates known without any pair
training (shared script, shared family, URIEL syntactic distance; and each side's
monolingual MRR, which the study finds correlated with donation and recipience), a
low-rank interaction u_s·v_t of rank ``rank``, and noise. The language effects d and r
are ridge-penalised by ``effects``: with monolingual MRR among the covariates they are
then deviations from the MRR line, so a language measured in few pairs borrows from it.
It is fitted to the measured cells by alternating ridge least squares: the additive part
and β as one ridge regression, then each u_s and v_t as small ridge regressions, until
the fit settles. The covariates are standardised and their coefficients β ridge-penalised
too, so that a covariate that predicts nothing in the measured cells is shrunk towards 0
rather than fitted to their noise. Cross-validation chooses the effects and covariate
penalties on the additive model first, then the interaction's rank and penalty.

Uncertainty comes from a residual bootstrap: each draw refits the model to the fitted
values plus resampled residuals, predicts every unmeasured cell, and adds a prediction
error resampled from the out-of-fold errors of a K-fold cross-validation on the measured
cells (the errors a prediction of an unseen cell actually makes). Measured cells keep
their measured value in every draw. From the draws come intervals for each cell, for
donation D and recipience R, for their ranks, and each language's probability of each
blood type. Everything is seeded; the same inputs give the same numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import linalg, sparse

from bloodbank.core.config import EstimateConfig
from bloodbank.core.errors import BloodbankError
from bloodbank.graph.analysis import blood_type
from bloodbank.graph.names import FOCUS

LEVEL = 0.9  # the intervals' nominal coverage
# Called after every model fit, the unit of an estimate's work (cross-validation and the
# bootstrap take hundreds): a progress bar shows a long estimate moving within seconds.
_ON_FIT: ContextVar[Callable[[], None] | None] = ContextVar("on_fit", default=None)


@contextmanager
def on_fit(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` after each fit made inside the ``with`` block."""
    token = _ON_FIT.set(callback)
    try:
        yield
    finally:
        _ON_FIT.reset(token)


class EstimateError(BloodbankError, ValueError):
    """The measured cells cannot support an estimate of the rest (too few, or a language
    measured in no pair); the message says which and how many."""


_CONFIG = EstimateConfig()  # the defaults of what params.yaml sets, kept there only


@dataclass(frozen=True)
class Settings:
    """What an estimate tries. The fields params.yaml also sets (``estimate``) default to
    its defaults, so a library call and the pipeline's stage estimate alike."""

    ranks: tuple[int, ...] = tuple(_CONFIG.ranks)  # interaction ranks tried; 0 = additive
    shrinks: tuple[float, ...] = tuple(_CONFIG.shrinks)  # interaction penalties tried, in
    # units of the measured cells' standard deviation (so that F in % or as a ratio alike)
    effects: tuple[float, ...] = tuple(_CONFIG.effects)  # penalties tried on d and r (in
    # cells: k measured cells and penalty λ shrink a language's effect by k / (k + λ))
    covariate_shrinks: tuple[float, ...] = tuple(_CONFIG.covariate_shrinks)  # penalties
    # tried on β besides none, per measured cell: c shrinks a standardised β by 1 / (1 + c)
    ridge: float = 1e-3  # the least penalty on d and r: only to fix the level
    draws: int = _CONFIG.draws  # bootstrap draws
    folds: int = _CONFIG.folds  # cross-validation folds: model choice and prediction errors
    iterations: int = 50  # alternating least-squares rounds, at most
    seed: int = 0

    @property
    def additive(self) -> Settings:
        """The baseline: rank 0 and free effects (covariates, if given, still enter)."""
        return replace(self, ranks=(0,), effects=(), covariate_shrinks=())


DEFAULT = Settings()


@dataclass(frozen=True)
class Model:
    """One candidate: an interaction rank and its penalty (absolute, F's units), the
    penalty on the language effects (in cells) and on the covariates' β (per cell)."""

    rank: int
    shrink: float
    effects: float = 0.0
    covariates: float = 0.0


NONE = Model(-1, 0.0)  # no model: every cell was measured


@dataclass
class Fit:
    mu: float
    d: np.ndarray
    r: np.ndarray
    beta: np.ndarray
    u: np.ndarray  # n × rank
    v: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The n × n matrix of fitted values (diagonal included, meaningless)."""
        return self.mu + self.d[:, None] + self.r[None, :] + x @ self.beta + self.u @ self.v.T


TOLERANCE = 1e-3  # a fit has settled when its fitted cells move less than this, in RMS,
# relative to the cells' sd: a thousandth of a typical prediction error, while alternating
# least squares with a strong penalty creeps on for hundreds of rounds at large n


def fit(
    f: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    model: Model,
    settings: Settings,
    *,
    start: Fit | None = None,
) -> Fit:
    """Fit the model to the cells of ``f`` where ``mask`` holds; ``x`` is n × n × p.

    With the targets' factors V fixed, the model is linear in (μ, d, r, β, U); with U
    fixed, in (μ, d, r, β, V). Each half-step is one ridge regression over everything,
    so the additive part and the interaction are never fitted against each other's
    stale values. The factors start from the leading singular vectors of the additive
    fit's residuals (deterministic), or from ``start``'s (a fit of nearby data, as in the
    bootstrap: it settles in a few rounds); rank 0 is a single ridge regression."""
    n, q = len(f), model.rank
    rows, cols = np.nonzero(mask)
    y = f[rows, cols]
    base = _additive_design(rows, cols, x, n)
    ridge = (max(settings.ridge, model.effects), max(1e-6, model.covariates * len(y)))
    theta, _ = _solve(base, y, rows, np.zeros((len(y), 0)), n, 0, ridge, 0.0)
    if start is not None and start.u.shape[1] == q:
        u, v = start.u, start.v
    else:
        u, v = _start(y - base @ theta, rows, cols, n, q)
    previous = base @ theta
    settled = TOLERANCE * (float(np.std(y)) or 1.0)
    for _ in range(settings.iterations if q else 0):
        theta, u = _solve(base, y, rows, v[cols], n, q, ridge, model.shrink)
        theta, v = _solve(base, y, cols, u[rows], n, q, ridge, model.shrink)
        u, v = _balance(u, v)
        fitted = base @ theta + np.einsum("ij,ij->i", u[rows], v[cols])
        if np.sqrt(np.mean((fitted - previous) ** 2)) < settled:
            break
        previous = fitted
    if (callback := _ON_FIT.get()) is not None:
        callback()
    p = x.shape[2]
    return Fit(
        theta[0], theta[1 : 1 + n], theta[1 + n : 1 + 2 * n], theta[1 + 2 * n : 1 + 2 * n + p], u, v
    )


def _start(
    resid: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int, q: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rank-q factors of the residual matrix (unmeasured cells as 0, rescaled)."""
    if q == 0:
        return np.zeros((n, 0)), np.zeros((n, 0))
    matrix = np.zeros((n, n))
    matrix[rows, cols] = resid * (n * (n - 1) / max(1, len(resid)))
    left, values, right = np.linalg.svd(matrix)
    root = np.sqrt(values[:q])
    return left[:, :q] * root, right[:q].T * root


def _additive_design(
    rows: np.ndarray, cols: np.ndarray, x: np.ndarray, n: int
) -> sparse.csr_matrix:
    """Columns: 1, one-hot source, one-hot target, the pair covariates. Sparse: a cell
    touches 3 + p of its 1 + 2n + p columns, so at hundreds of languages the normal
    equations cost a sparse product, not a dense one over thousands of cells."""
    m = len(rows)
    at = np.arange(m)
    ones = np.ones(m)
    indicator = sparse.csr_matrix(
        (
            np.concatenate([ones, ones, ones]),
            (np.tile(at, 3), np.concatenate([0 * rows, 1 + rows, 1 + n + cols])),
        ),
        shape=(m, 1 + 2 * n),
    )
    return sparse.hstack([indicator, sparse.csr_matrix(x[rows, cols])], format="csr")


def _solve(
    base: sparse.csr_matrix,
    y: np.ndarray,
    own: np.ndarray,
    fixed: np.ndarray,
    n: int,
    q: int,
    ridge: tuple[float, float],
    shrink: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of y on the additive columns and on ``own``'s factors (each cell
    contributes the other side's fixed factor row); returns (additive θ, factors).
    ``ridge``: the penalties on d and r, and on β."""
    m = len(y)
    inter = sparse.csr_matrix(
        (fixed.ravel(), (np.repeat(np.arange(m), q), (own[:, None] * q + np.arange(q)).ravel())),
        shape=(m, n * q),
    )
    design = sparse.hstack([base, inter], format="csr")
    k_add = base.shape[1]
    penalty = np.zeros(design.shape[1])
    penalty[1 : 1 + 2 * n] = ridge[0]
    penalty[1 + 2 * n : k_add] = ridge[1]
    penalty[k_add:] = shrink
    gram = (design.T @ design).toarray()
    gram[np.diag_indices_from(gram)] += penalty
    coef = linalg.solve(gram, design.T @ y, assume_a="pos", check_finite=False)
    return coef[:k_add], coef[k_add:].reshape(n, q)


def _balance(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rescale each component so that u and v carry equal norms (the product is kept):
    the ridge then penalises the interaction as a whole, not one side of it."""
    nu, nv = np.linalg.norm(u, axis=0), np.linalg.norm(v, axis=0)
    scale = np.sqrt(np.where(nu > 0, nv / np.where(nu > 0, nu, 1), 1.0))
    return u * scale, v / np.where(scale > 0, scale, 1.0)


# Measured cells a parameter (μ, each language effect, each covariate or factor) needs:
# an interaction, or every covariate at once without a choice, 1.2; covariates down to
# 0.8 where cross-validation keeps them, since the language effects beside them are
# penalised and so cost less than one parameter each (``_prefix``).
CELLS_PER_PARAMETER = 1.2
COVARIATE_CELLS_PER_PARAMETER = 0.8


def affordable(cells: int, n: int, covariates: int, per_parameter: float) -> int:
    """How many covariates (a prefix) ``cells`` measured cells afford beside the additive
    model of ``n`` languages, at ``per_parameter`` cells each."""
    return max(0, min(covariates, int(cells / per_parameter + 1e-9) - 1 - 2 * n))


def effect_candidates(settings: Settings, covariates: int) -> list[Model]:
    """The additive models: free effects and covariates, then each penalty on them (on
    the covariates only where there are any)."""
    betas = (0.0, *settings.covariate_shrinks) if covariates else (0.0,)
    return [Model(0, 0.0, e, c) for e in (0.0, *settings.effects) for c in betas]


def candidates(y: np.ndarray, n: int, settings: Settings, additive: Model) -> list[Model]:
    """The models cross-validation chooses from, with the effects and covariate penalties
    chosen first (``additive``). A rank whose parameters (μ, d, r and 2nq factors)
    outnumber the measured cells is not tried: with 12 cells for 6 languages,
    cross-validation itself is too noisy to keep it from overfitting."""
    scale = float(np.std(y)) or 1.0
    models = [additive] if 0 in settings.ranks else []
    for rank in (r for r in settings.ranks if r > 0):
        if len(y) >= CELLS_PER_PARAMETER * (1 + 2 * n * (1 + rank)):
            models += [replace(additive, rank=rank, shrink=c * scale) for c in settings.shrinks]
    return models or [additive]


def cv_errors(
    f: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    model: Model,
    settings: Settings,
    folds: np.ndarray,
) -> np.ndarray:
    """Out-of-fold errors (measured − predicted) of every measured cell."""
    rows, cols = np.nonzero(mask)
    errors = np.empty(len(rows))
    for k in range(settings.folds):
        held = folds == k
        train = mask.copy()
        train[rows[held], cols[held]] = False
        pred = fit(f, train, x, model, settings).predict(x)
        errors[held] = f[rows[held], cols[held]] - pred[rows[held], cols[held]]
    return errors


def select(
    f: np.ndarray, mask: np.ndarray, x: np.ndarray, settings: Settings, rng: np.random.Generator
) -> tuple[Model, np.ndarray]:
    """The candidate with the least cross-validated error, and its out-of-fold errors.

    Folds are balanced over sources, so that every language keeps cells to fit on."""
    rows, _ = np.nonzero(mask)
    folds = np.empty(len(rows), dtype=int)
    for s in np.unique(rows):
        mine = np.nonzero(rows == s)[0]
        folds[mine] = (rng.permutation(len(mine)) + rng.integers(settings.folds)) % settings.folds
    additive = _best(f, mask, x, effect_candidates(settings, x.shape[2]), settings, folds)
    models = candidates(f[mask], len(f), settings, additive[1])
    return _best(f, mask, x, models, settings, folds, additive)[1:]


def _best(
    f: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    models: list[Model],
    settings: Settings,
    folds: np.ndarray,
    known: tuple[float, Model, np.ndarray] | None = None,
) -> tuple[float, Model, np.ndarray]:
    """(mean squared out-of-fold error, model, errors) of the best of ``models``; the
    first wins ties, and ``known`` is a result already computed for one of them."""
    best: tuple[float, Model, np.ndarray] | None = None
    for model in models:
        if known is not None and model == known[1]:
            result = known
        else:
            errors = cv_errors(f, mask, x, model, settings, folds)
            result = (float(np.mean(errors**2)), model, errors)
        if best is None or result[0] < best[0] - 1e-12:
            best = result
    assert best is not None
    return best


@dataclass
class Estimate:
    """A completed matrix, which cells were measured, and the bootstrap draws."""

    point: pd.DataFrame  # measured cells as measured, the others predicted
    measured: pd.DataFrame  # bool; the diagonal is False
    draws: np.ndarray  # B × n × n completed matrices
    prediction_sd: float  # of an unmeasured cell's prediction error (cross-validated)
    model: Model  # the rank and penalties cross-validation chose
    covariates: list[str]  # the covariates fitted (none with too few cells)

    @property
    def langs(self) -> list[str]:
        return list(self.point.index)

    def cell_interval(self, level: float = LEVEL) -> tuple[pd.DataFrame, pd.DataFrame]:
        lo, hi = np.quantile(self.draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return _frame(lo, self.langs), _frame(hi, self.langs)

    def summary(self, level: float = LEVEL) -> pd.DataFrame:
        """Per language: D and R (point, interval), rank intervals, blood-type odds."""
        d_draw, r_draw = sums(self.draws)
        d, r = sums(self.point.to_numpy()[None])
        q = [(1 - level) / 2, (1 + level) / 2]
        table = pd.DataFrame(index=pd.Index(self.langs, name="language"))
        table["D"], table["R"] = d[0], r[0]
        table["D_low"], table["D_high"] = np.quantile(d_draw, q, axis=0)
        table["R_low"], table["R_high"] = np.quantile(r_draw, q, axis=0)
        for name, draw in (("D", d_draw), ("R", r_draw)):
            ranks = (-draw).argsort(axis=1).argsort(axis=1) + 1  # 1 = largest
            table[f"{name}_rank_low"], table[f"{name}_rank_high"] = np.quantile(
                ranks, q, axis=0, method="nearest"
            ).astype(int)
        types = np.vectorize(blood_type)(d_draw, r_draw)
        for kind in ("O", "AB+", "mutual", "isolated"):
            table[f"p_{kind}"] = (types == kind).mean(axis=0)
        table["type"] = type_of(d[0], r[0])
        table["measured_as_source"] = self.measured.sum(axis=1).to_numpy()
        table["measured_as_target"] = self.measured.sum(axis=0).to_numpy()
        return table


def sums(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D and R of each draw (B × n each), the diagonal excluded."""
    off = ~np.eye(draws.shape[1], dtype=bool)
    cells = np.where(off, draws, 0.0)
    return cells.sum(axis=2), cells.sum(axis=1)


def estimate(
    frame: pd.DataFrame,
    covariates: dict[str, pd.DataFrame] | None = None,
    settings: Settings = DEFAULT,
) -> Estimate:
    """Complete ``frame`` (source × target F, NaN where not measured, diagonal ignored)."""
    langs = list(frame.index)
    if list(frame.columns) != langs:
        raise ValueError("the matrix must list the same languages as rows and columns")
    f = frame.to_numpy(dtype=float)
    n = len(langs)
    off = ~np.eye(n, dtype=bool)
    mask = off & ~np.isnan(f)
    rng = np.random.default_rng(settings.seed)
    if not (off & ~mask).any():  # every pair measured: nothing to estimate
        return Estimate(frame.rename_axis("source"), _frame(mask, langs), f[None], 0.0, NONE, [])
    _enough(mask, langs)
    names, x, model, errors, rng = _prefix(f, mask, covariates or {}, langs, settings, rng)
    point_fit = fit(f, mask, x, model, settings)
    fitted = point_fit.predict(x)
    point = np.where(mask, f, fitted)
    errors = errors - errors.mean()
    resid = f[mask] - fitted[mask]
    resid = (resid - resid.mean()) * np.sqrt(mask.sum() / max(1, mask.sum() - 2 * n))
    draws = np.empty((settings.draws, n, n))
    hidden = off & ~mask
    for b in range(settings.draws):
        boot = np.where(mask, fitted, np.nan)
        boot[mask] += rng.choice(resid, size=mask.sum())
        pred = fit(boot, mask, x, model, settings, start=point_fit).predict(x)
        pred[hidden] += rng.choice(errors, size=hidden.sum())
        draws[b] = np.where(mask, f, pred)
    draws[:, ~off] = np.nan_to_num(f[~off])  # the diagonal: not part of D or R
    point[~off] = f[~off]
    measured = _frame(mask, langs)
    return Estimate(
        pd.DataFrame(point, index=langs, columns=langs).rename_axis("source"),
        measured,
        draws,
        float(np.sqrt(np.mean(errors**2))),
        model,
        names,
    )


def _prefix(
    f: np.ndarray,
    mask: np.ndarray,
    covariates: dict[str, pd.DataFrame],
    langs: list[str],
    settings: Settings,
    rng: np.random.Generator,
) -> tuple[list[str], np.ndarray, Model, np.ndarray, np.random.Generator]:
    """The covariates (a prefix, most informative first) and the model that
    cross-validation prefers, with its out-of-fold errors and the generator after it.

    Where the cells afford every covariate surely (``CELLS_PER_PARAMETER``) there is one
    choice. Where they afford fewer, each prefix the looser rule allows is tried on the
    same folds, and the shortest within one standard error of the best is kept: a proxy
    that reads most of F pays for itself with two pairs a language (synthetic-wide at
    20%), while weak covariates overfit six languages (Table 5) and the best prefix
    alone follows the folds' noise (synthetic-wide at 30%)."""
    names, cells = list(covariates), int(mask.sum())
    sure = affordable(cells, len(langs), len(names), CELLS_PER_PARAMETER)
    most = affordable(cells, len(langs), len(names), COVARIATE_CELLS_PER_PARAMETER)
    x_all = stack({k: covariates[k] for k in names[:most]}, langs)
    tried = []
    for size in range(sure, most + 1):
        trial = copy.deepcopy(rng)  # the same folds for every prefix
        x = x_all[..., :size]
        model, errors = select(f, mask, x, settings, trial)
        tried.append((names[:size], x, model, errors, trial))
    # the shortest prefix within one standard error of the best: more covariates only
    # where cross-validation is sure they help, not where its noise favours them
    squares = [t[3] ** 2 for t in tried]
    best = int(np.argmin([float(np.mean(q)) for q in squares]))
    bar = float(np.mean(squares[best]) + np.std(squares[best]) / np.sqrt(len(squares[best])))
    return next(t for t, q in zip(tried, squares, strict=True) if float(np.mean(q)) <= bar)


def _enough(mask: np.ndarray, langs: list[str]) -> None:
    """Refuse what the model cannot identify: a language's effect needs at least one
    measured pair on its side, and the effects need about two cells per language."""
    n = len(langs)
    if mask.sum() < 2 * n:
        raise EstimateError(f"{mask.sum()} measured pairs for {n} languages: too few to estimate")
    for axis, side in ((1, "source"), (0, "target")):
        empty = [langs[i] for i in np.flatnonzero(mask.sum(axis=axis) == 0)]
        if empty:
            raise EstimateError(
                f"no measured pair has {', '.join(empty)} as its {side}: its "
                f"{'donation' if side == 'source' else 'recipience'} cannot be estimated"
            )


def _frame(values: np.ndarray, langs: list[str]) -> pd.DataFrame:
    return pd.DataFrame(values, index=langs, columns=langs).rename_axis("source")


def stack(covariates: dict[str, pd.DataFrame], langs: list[str]) -> np.ndarray:
    """n × n × p pair covariates in the order of ``langs`` (p may be 0), each standardised
    over the off-diagonal cells, so that one penalty on β means the same for each."""
    n = len(langs)
    if not covariates:
        return np.zeros((n, n, 0))
    off = ~np.eye(n, dtype=bool)
    layers = []
    for frame in covariates.values():
        values = frame.loc[langs, langs].to_numpy(dtype=float)
        sd = values[off].std()
        layers.append((values - values[off].mean()) / (sd if sd > 0 else 1.0))
    return np.stack(layers, axis=2)


def type_of(d: np.ndarray, r: np.ndarray) -> list[str]:
    return [blood_type(a, b) for a, b in zip(d, r, strict=True)]


def next_pairs(est: Estimate, count: int, focus: str = "types") -> list[tuple[str, str, float]]:
    """The ``count`` unmeasured pairs whose training would inform the graph most.

    Under a Gaussian reading of the bootstrap draws, learning cell c lowers the variance
    of a sum Q (a language's D or R) by Cov(Q, F_c)² / Var(F_c). ``focus="sums"`` adds
    this up over all D and R. ``focus="types"`` weighs each D and R by how undecided
    what the study reads from it still is: 4p(1-p) for p = P(Q > 0) (the blood type),
    plus the mean of 4q(1-q) over the other languages for q = P(Q above theirs) (the
    ranking), plus 0.02; a sum already settled in sign and rank then draws no pairs.
    Pairs are chosen greedily: after each choice every column of the centred draws is
    residualised on the chosen cell (conditioning, in sample space), so the next choice
    counts only what is left. A cell's gain, the squared norm of its cross-products with
    the sums over its own, is read through the draws' Gram matrix of the sums
    (``zc' (zq zq') zc``): a draws × draws product instead of a sums × cells one, so a
    choice at 300 languages streams the draws, not a matrix of 600 × 90,000. Returns
    (source, target, weighted variance removed) in the order chosen."""
    if focus not in FOCUS:
        raise ValueError(f"focus must be one of {FOCUS}, not {focus!r}")
    langs = est.langs
    n = len(langs)
    hidden = np.argwhere(~np.eye(n, dtype=bool) & ~est.measured.to_numpy())
    if len(hidden) == 0 or len(est.draws) < 2:
        return []
    cells = est.draws[:, hidden[:, 0], hidden[:, 1]]
    sums_ = np.hstack(sums(est.draws))
    if focus == "types":
        sums_ = sums_ * np.sqrt(undecided(*sums(est.draws)))
    z = np.hstack([cells, sums_])
    z = z - z.mean(axis=0)
    m = len(hidden)
    chosen: list[tuple[str, str, float]] = []
    free = np.ones(m, dtype=bool)
    for _ in range(min(count, m)):
        zc, zq = z[:, :m], z[:, m:]
        norms = np.einsum("ij,ij->j", zc, zc)
        explained = np.einsum("ij,ij->j", zc, (zq @ zq.T) @ zc)  # = ||zq' zc||²
        gains = np.where(
            free & (norms > 1e-12), explained / np.where(norms > 1e-12, norms, 1.0), -1.0
        ) / (len(z) - 1)
        best = int(np.argmax(gains))
        if gains[best] < 0:
            break
        s, t = hidden[best]
        chosen.append((langs[s], langs[t], float(gains[best])))
        free[best] = False
        pivot = z[:, best].copy()
        z = z - np.outer(pivot, pivot @ z) / (pivot @ pivot)
    return chosen


def undecided(d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Weights of D_1..D_n, R_1..R_n (draws × n each) for ``next_pairs``: sign and rank
    ambiguity across the draws, from 0.02 (settled) up."""
    out = []
    for block in (d, r):
        p = (block > 0).mean(axis=0)
        above = (block[:, :, None] > block[:, None, :]).mean(axis=0)
        out.append(4 * p * (1 - p) + (4 * above * (1 - above)).mean(axis=1) + 0.02)
    return np.concatenate(out)
