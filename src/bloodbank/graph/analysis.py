"""The Linguistic Blood Bank: what the transfer matrix says (study §4.2, §5, Appendix).

Donation D(l) and recipience R(l) (equations 5 and 6) sum a language's outgoing and
incoming F, diagonal excluded. Their signs give the blood-type quadrant. Ordered pairs
fall into the Appendix's transfer bins; the bins are tested against shared script and
shared family. Statistics come from scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bloodbank.core import languages
from bloodbank.graph.matrix_io import TransferMatrix

BIN_BORDERS: tuple[float, ...] = (-10.0, 10.0, 55.0)
BIN_NAMES: tuple[str, ...] = ("negative", "neutral", "positive", "very positive")

# Blood types by the signs of (D, R). O and AB+ are the study's names.
TYPES: dict[str, str] = {
    "O": "donates but does not receive (D > 0, R < 0)",
    "AB+": "receives but does not donate (D < 0, R > 0)",
    "mutual": "donates and receives (D > 0, R > 0)",
    "isolated": "neither donates nor receives (D < 0, R < 0)",
    "boundary": "D or R is exactly 0",
}


@dataclass(frozen=True)
class Pair:
    source: str
    target: str
    f: float
    same_script: bool | None  # None: a script no library knows
    same_family: bool | None


def donation(f: np.ndarray) -> np.ndarray:
    """D(l) = Σ_{t≠l} F(l→t), equation 5."""
    return np.nansum(np.where(np.eye(len(f), dtype=bool), 0.0, f), axis=1)


def recipience(f: np.ndarray) -> np.ndarray:
    """R(l) = Σ_{s≠l} F(s→l), equation 6."""
    return donation(f.T)


def blood_type(d: float, r: float) -> str:
    if d == 0 or r == 0:
        return "boundary"
    if d > 0:
        return "O" if r < 0 else "mutual"
    return "AB+" if r > 0 else "isolated"


def centred_types(d: np.ndarray, r: np.ndarray) -> list[str]:
    """Blood types against the average language: the signs of D − mean(D) and R − mean(R)
    (the two means are equal: both are the sum of F over n languages).

    The study reads types from the signs of D and R themselves, which needs a baseline
    under which F > 0 means "s helped t". Under a brief pair recipe every F can be
    negative (the source's model never reaches the target's own), and every language is
    then "isolated"; centred, a donor is one that helps more than the average source."""
    level = float(np.mean(d)) if len(d) else 0.0
    return [blood_type(a - level, b - level) for a, b in zip(d, r, strict=True)]


def ranking(codes: list[str], scores: np.ndarray) -> list[str]:
    """Codes from the highest score down; ties keep the matrix order."""
    order = sorted(range(len(codes)), key=lambda i: (-scores[i], i))
    return [codes[i] for i in order]


def transfer_bin(value: float, borders: tuple[float, ...] = BIN_BORDERS) -> int:
    """Index into BIN_NAMES: negative < b0 ≤ neutral < b1 ≤ positive < b2 ≤ very positive."""
    return int(np.searchsorted(np.asarray(borders), value, side="right"))


def pairs_of(matrix: TransferMatrix) -> list[Pair]:
    """Every ordered pair s ≠ t, with whether s and t share script and family (None
    where one's is unknown: the tests by script and family leave such a pair out)."""
    out = []
    for i, s in enumerate(matrix.langs):
        for j, t in enumerate(matrix.langs):
            if i != j:
                out.append(
                    Pair(
                        s,
                        t,
                        float(matrix.f[i, j]),
                        languages.shared(s, t, "script"),
                        languages.shared(s, t, "family"),
                    )
                )
    return out


def bin_counts(values: list[float], borders: tuple[float, ...] = BIN_BORDERS) -> dict[str, int]:
    counts = dict.fromkeys(BIN_NAMES, 0)
    for v in values:
        counts[BIN_NAMES[transfer_bin(v, borders)]] += 1
    return counts


def contingency(
    pairs: list[Pair], attribute: str, borders: tuple[float, ...] = BIN_BORDERS
) -> np.ndarray:
    """2 × 4 table of pair counts: rows shared / not shared ``attribute``, columns bins."""
    table = np.zeros((2, len(BIN_NAMES)), dtype=np.int64)
    for p in pairs:
        shared = getattr(p, attribute)
        if shared is not None:
            table[0 if shared else 1, transfer_bin(p.f, borders)] += 1
    return table


def independence_test(table: np.ndarray, seed: int, resamples: int = 9999) -> dict:
    """Pearson's χ² test of bins against the grouping, and Fisher's exact test (Monte Carlo
    over tables with the same margins) for when expected counts are small."""
    used = table[:, table.sum(axis=0) > 0]
    if used.shape[1] < 2 or (used.sum(axis=1) == 0).any():
        why = (
            "one group is empty" if (used.sum(axis=1) == 0).any() else "all pairs fall into one bin"
        )
        return {
            "chi2": None,
            "dof": None,
            "p": None,
            "min_expected": None,
            "fisher_p": None,
            "note": f"undefined: {why}",
        }
    from scipy import stats  # here: `lbb` commands that only classify types start faster

    chi2, p, dof, expected = stats.chi2_contingency(used, correction=False)
    method = stats.MonteCarloMethod(n_resamples=resamples, rng=np.random.default_rng(seed))
    fisher_p = float(np.ravel(stats.fisher_exact(used, method=method).pvalue)[0])  # (1,) r×c
    small = bool(expected.min() < 5)
    return {
        "chi2": float(chi2),
        "dof": int(dof),
        "p": float(p),
        "min_expected": float(expected.min()),
        "fisher_p": fisher_p,
        "note": (
            "expected counts below 5: read Fisher's p"
            if small
            else "expected counts ≥ 5: χ² is reliable"
        ),
    }


def correlation(x: np.ndarray, y: np.ndarray) -> dict:
    """Pearson r with its two-sided Student t p-value; None where undefined."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {
            "r": None,
            "p": None,
            "n": n,
            "note": "undefined: fewer than 3 points or a constant variable",
        }
    from scipy import stats

    res = stats.pearsonr(x, y)
    return {"r": float(res.statistic), "p": float(res.pvalue), "n": n}


def asymmetry(f: np.ndarray) -> dict:
    """Pearson r between F(a→b) and F(b→a) over unordered pairs {a, b}."""
    upper = np.triu_indices(len(f), k=1)
    return correlation(f[upper], f.T[upper])


def analyse(
    matrix: TransferMatrix,
    mono_mrr: dict[str, float] | None = None,
    seed: int = 0,
    borders: tuple[float, ...] = BIN_BORDERS,
    resamples: int = 9999,
) -> dict:
    """Everything ``metrics/graph.json`` holds (JSON-ready; None marks undefined values)."""
    langs, f = matrix.langs, matrix.f
    d, r = donation(f), recipience(f)
    donors, recipients = ranking(langs, d), ranking(langs, r)
    pairs = pairs_of(matrix)
    centred = centred_types(d, r)
    per_lang = {}
    for i, code in enumerate(langs):
        lang = languages.get(code)
        per_lang[code] = {
            "donation": round(float(d[i]), 4),
            "recipience": round(float(r[i]), 4),
            "type": blood_type(d[i], r[i]),
            "type_centred": centred[i],
            "donor_rank": donors.index(code) + 1,
            "recipient_rank": recipients.index(code) + 1,
            "script": lang.script,
            "family": lang.family,
            "name": lang.name,
        }
        if mono_mrr and code in mono_mrr:
            per_lang[code]["mono_mrr"] = mono_mrr[code]
    tests = {"asymmetry": asymmetry(f)}
    for attr in ("script", "family"):
        tests[f"{attr}_effect"] = independence_test(
            contingency(pairs, f"same_{attr}", borders), seed, resamples
        )
    tests.update(_mono_tests(langs, f, d, r, mono_mrr))
    return {
        "input": {
            "kind": matrix.kind,
            "kind_reason": matrix.kind_reason,
            "n_languages": len(langs),
            "n_pairs": len(pairs),
        },
        "languages": per_lang,
        "donor_ranking": " > ".join(donors),
        "recipient_ranking": " > ".join(recipients),
        "types": {t: ",".join(c for c in langs if per_lang[c]["type"] == t) for t in TYPES},
        "types_centred": {
            t: ",".join(c for c in langs if per_lang[c]["type_centred"] == t) for t in TYPES
        },
        "bins": _bins(pairs, borders),
        "tests": tests,
        "mean_f": round(float(np.mean([p.f for p in pairs])), 4),
    }


def _bins(pairs: list[Pair], borders: tuple[float, ...]) -> dict:
    out = {
        "borders": {
            "negative_below": borders[0],
            "positive_from": borders[1],
            "very_positive_from": borders[2],
        },
        "all": bin_counts([p.f for p in pairs], borders),
    }
    for attr in ("script", "family"):
        out[f"same_{attr}"] = bin_counts(
            [p.f for p in pairs if getattr(p, f"same_{attr}")], borders
        )
        out[f"different_{attr}"] = bin_counts(
            [p.f for p in pairs if getattr(p, f"same_{attr}") is False], borders
        )
    return out


def _mono_tests(
    langs: list[str], f: np.ndarray, d: np.ndarray, r: np.ndarray, mono_mrr: dict[str, float] | None
) -> dict:
    """Section 5 and footnote 10: monolingual MRR against D, R and F (Figure 4)."""
    if not mono_mrr:
        return {}
    mrr = np.array([mono_mrr.get(c, np.nan) for c in langs])
    off = ~np.eye(len(langs), dtype=bool)
    rows, cols = np.nonzero(off)
    return {
        "mono_mrr_vs_donation": correlation(mrr, d),
        "mono_mrr_vs_recipience": correlation(mrr, r),
        "source_mono_mrr_vs_f": correlation(mrr[rows], f[rows, cols]),
        "target_mono_mrr_vs_f": correlation(mrr[cols], f[rows, cols]),
    }
