"""Typological features of every language, for filtering the explorer.

Real languages: URIEL's syntax features (WALS first, then SSWL, then Ethnologue), as
shipped in the data files of the `lang2vec` package. The files are read directly: the
package's own loader imports `pkg_resources`, which current setuptools no longer has.
Synthetic languages: the properties the registry declares. Both give the same four
categorical features, so real and synthetic languages filter alike.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np

from bloodbank.core import languages
from bloodbank.core.editions import UrielUnavailable, uriel_data

SOURCES = ("WALS", "SSWL", "ETHNO")  # URIEL sources, most trusted first
UNKNOWN = "unknown"

# Each categorical feature: its values and the URIEL binary features that signal them.
CATEGORICAL: dict[str, dict[str, str]] = {
    "word_order": {
        "SVO": "S_SVO",
        "SOV": "S_SOV",
        "VSO": "S_VSO",
        "VOS": "S_VOS",
        "OVS": "S_OVS",
        "OSV": "S_OSV",
    },
    "adjective_order": {"AdjN": "S_ADJECTIVE_BEFORE_NOUN", "NAdj": "S_ADJECTIVE_AFTER_NOUN"},
    "adposition": {
        "prepositions": "S_ADPOSITION_BEFORE_NOUN",
        "postpositions": "S_ADPOSITION_AFTER_NOUN",
    },
    "inflection": {"prefixing": "S_TEND_PREFIX", "suffixing": "S_TEND_SUFFIX"},
}


# URIEL's data folder is found where the registry also reads families from it
TypologyUnavailable = UrielUnavailable  # lang2vec (URIEL) is not installed


@cache
def _uriel() -> tuple[dict[str, int], dict[str, int], dict[str, int], np.ndarray]:
    """(language index, feature index, source index, data[language, feature, source])."""
    with np.load(uriel_data() / "features.npz", allow_pickle=False) as db:
        langs = {str(c): i for i, c in enumerate(db["langs"])}
        feats = {str(f): i for i, f in enumerate(db["feats"])}
        sources = {str(s): i for i, s in enumerate(db["sources"])}
        keep = [sources[s] for s in SOURCES]
        data = db["data"][:, :, keep]
    return langs, feats, {s: i for i, s in enumerate(SOURCES)}, data


@cache
def _letter_codes() -> dict[str, str]:
    return json.loads((uriel_data() / "letter_codes.json").read_text(encoding="utf-8"))


def uriel_code(code: str) -> str:
    """ISO 639-3 code that URIEL files a language under (``fi`` → ``fin``)."""
    return _letter_codes().get(code, code)


def _flags(code: str, names: list[str]) -> tuple[list[str], str] | None:
    """Which of ``names`` hold for the language, from the first source that knows any."""
    langs, feats, sources, data = _uriel()
    row = langs.get(uriel_code(code))
    if row is None:
        return None
    for source in SOURCES:
        values = [data[row, feats[n], sources[source]] for n in names]
        if any(v > 0 for v in values):
            return [n for n, v in zip(names, values, strict=True) if v > 0], source
    return None


def categorical(code: str) -> dict[str, str]:
    """The four features, e.g. ``{"word_order": "SVO/SOV", ...}``; ``unknown`` if absent."""
    lang = languages.get(code)
    if lang.synthetic:
        return {name: lang.features.get(name, UNKNOWN) for name in CATEGORICAL}
    out = {}
    for name, values in CATEGORICAL.items():
        found = _flags(code, list(values.values()))
        labels = {v: k for k, v in values.items()}
        out[name] = "/".join(labels[f] for f in found[0]) if found else UNKNOWN
    return out


def syntax_flags(code: str) -> dict[str, str]:
    """Every URIEL syntax feature (S_*) as yes / no / unknown, for finer filters."""
    if languages.get(code).synthetic:
        return {}
    langs, feats, sources, data = _uriel()
    row = langs.get(uriel_code(code))
    out = {}
    for name, j in feats.items():
        if not name.startswith("S_"):
            continue
        value = UNKNOWN
        if row is not None:
            for source in SOURCES:
                v = data[row, j, sources[source]]
                if v >= 0:
                    value = "yes" if v > 0 else "no"
                    break
        out[name] = value
    return out


def features(codes: list[str], detailed: bool = False) -> dict[str, dict[str, str]]:
    """Features of each language; with ``detailed`` the URIEL S_* flags as well. Without
    lang2vec, real languages get ``unknown`` rather than an error."""
    out = {}
    for code in codes:
        try:
            feats = categorical(code)
            if detailed:
                feats |= syntax_flags(code)
        except TypologyUnavailable:
            feats = dict.fromkeys(CATEGORICAL, UNKNOWN)
        out[code] = feats
    return out


def syntactic_distance(a: str, b: str) -> float:
    """The share of syntax features on which ``a`` and ``b`` differ, over those known for
    both (NaN if none): every URIEL S_* feature for real languages, the four categorical
    features of the registry for synthetic ones (a language of each kind: the four)."""
    if languages.get(a).synthetic or languages.get(b).synthetic:
        fa, fb = categorical(a), categorical(b)
    else:
        fa, fb = syntax_flags(a), syntax_flags(b)
    known = [n for n in fa if fa[n] != UNKNOWN and fb.get(n, UNKNOWN) != UNKNOWN]
    if not known:
        return float("nan")
    return sum(fa[n] != fb[n] for n in known) / len(known)
