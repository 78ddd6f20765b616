"""The language registry: every language the project knows, real or synthetic.

Analyses (script and family effects) and the explorer read script, family and
features from here, so real and synthetic languages are described the same way.
Listed here: the 22 of Table 1 of the study and the 19 tokenizer-only languages of its
Appendix (names, families and scripts as the study gives them; Wikipedia sizes are
Table 1's, in millions of chars), and the synthetic languages. Every other Wikipedia
edition, and any valid ISO 639 code, is described by :mod:`bloodbank.core.editions`
from well-kept libraries, with what they do not know left unknown (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from bloodbank.core.errors import BloodbankError
from bloodbank.core.synthetic_spec import SYNTHETIC_LANGUAGES

# Codes become file names and DVC stage names: keep them to a safe shape.
CODE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})?$")


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639 code used throughout the project
    name: str
    family: str | None  # None: no library places it
    script: str | None  # ISO 15924; None: unknown
    wiki: str  # the dump's database prefix (<wiki>wiki), the edition's prefix with "_"
    wiki_mchars: float | None = None  # size of the full Wikipedia (Table 1)
    studied: bool = False  # one of the study's 22 languages
    synthetic: bool = False
    features: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


_STUDIED = [
    # code, name, family, script, Wikipedia size in M chars (Table 1)
    ("pms", "Piedmontese", "Indo-European", "Latn", 14),
    ("ga", "Irish", "Indo-European", "Latn", 38),
    ("ne", "Nepali", "Indo-European", "Deva", 78),
    ("cy", "Welsh", "Indo-European", "Latn", 85),
    ("fi", "Finnish", "Uralic", "Latn", 131),
    ("hy", "Armenian", "Indo-European", "Armn", 174),
    ("my", "Burmese", "Sino-Tibetan", "Mymr", 229),
    ("hi", "Hindi", "Indo-European", "Deva", 473),
    ("te", "Telugu", "Dravidian", "Telu", 533),
    ("ta", "Tamil", "Dravidian", "Taml", 573),
    ("ko", "Korean", "Koreanic", "Kore", 756),
    ("el", "Greek", "Indo-European", "Grek", 906),
    ("hu", "Hungarian", "Uralic", "Latn", 962),
    ("he", "Hebrew", "Afro-Asiatic", "Hebr", 1261),
    ("zh", "Chinese", "Sino-Tibetan", "Hani", 1546),
    ("ar", "Arabic", "Afro-Asiatic", "Arab", 1695),
    ("sv", "Swedish", "Indo-European", "Latn", 1744),
    ("ja", "Japanese", "Japonic", "Jpan", 3288),
    ("fr", "French", "Indo-European", "Latn", 4958),
    ("de", "German", "Indo-European", "Latn", 6141),
    ("ru", "Russian", "Indo-European", "Cyrl", 6467),
    ("en", "English", "Indo-European", "Latn", 14433),
]

_TOKENIZER_ONLY = [
    ("af", "Afrikaans", "Indo-European", "Latn"),
    ("am", "Amharic", "Afro-Asiatic", "Ethi"),
    ("ca", "Catalan", "Indo-European", "Latn"),
    ("cs", "Czech", "Indo-European", "Latn"),
    ("da", "Danish", "Indo-European", "Latn"),
    ("es", "Spanish", "Indo-European", "Latn"),
    ("id", "Indonesian", "Austronesian", "Latn"),
    ("is", "Icelandic", "Indo-European", "Latn"),
    ("it", "Italian", "Indo-European", "Latn"),
    ("mg", "Malagasy", "Austronesian", "Latn"),
    ("nl", "Dutch", "Indo-European", "Latn"),
    ("pl", "Polish", "Indo-European", "Latn"),
    ("sk", "Slovak", "Indo-European", "Latn"),
    ("sw", "Swahili", "Niger-Congo", "Latn"),
    ("th", "Thai", "Kra-Dai", "Thai"),
    ("tr", "Turkish", "Turkic", "Latn"),
    ("ur", "Urdu", "Indo-European", "Arab"),
    ("vi", "Vietnamese", "Austroasiatic", "Latn"),
    ("yi", "Yiddish", "Indo-European", "Hebr"),
]


def _build_registry() -> dict[str, Language]:
    langs: list[Language] = [
        Language(code, name, fam, script, code, float(size), studied=True)
        for code, name, fam, script, size in _STUDIED
    ]
    langs += [
        Language(code, name, fam, script, code) for code, name, fam, script in _TOKENIZER_ONLY
    ]
    langs += [
        Language(
            s.code, s.name, s.family, s.script_label, s.code, synthetic=True, features=s.features()
        )
        for s in SYNTHETIC_LANGUAGES
    ]
    return {lang.code: lang for lang in langs}


REGISTRY: dict[str, Language] = _build_registry()

PAPER_STUDIED: tuple[str, ...] = tuple(row[0] for row in _STUDIED)
PAPER_TOKENIZER_ONLY: tuple[str, ...] = tuple(row[0] for row in _TOKENIZER_ONLY)


class UnknownLanguageError(BloodbankError, ValueError):
    pass


def check_code(code: str) -> str:
    """Return ``code`` if it is safe to use in paths and names a language: one of the
    registry's, a Wikipedia edition, or a valid ISO 639 code."""
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise UnknownLanguageError(
            f"language code {code!r} is not of the form 'xx' or 'xxx' (lowercase ISO 639)"
        )
    if code not in REGISTRY and _described(code) is None:
        raise UnknownLanguageError(
            f"unknown language code {code!r}: neither a Wikipedia edition nor an ISO 639 "
            "code (`lbb languages --editions` lists the editions)"
        )
    return code


@cache
def _described(code: str) -> Language | None:
    """A language the registry does not list, as the libraries describe it."""
    from bloodbank.core.editions import describe

    found = describe(code)
    if found is None:
        return None
    return Language(code, found.name or code, found.family, found.script, found.dump)


def get(code: str) -> Language:
    code = check_code(code)
    return REGISTRY.get(code) or _described(code)


def _needed(code: str, what: str) -> str:
    value = getattr(get(code), what)
    if value is None:
        raise UnknownLanguageError(
            f"{code}: its {what} is unknown (no library places it), and this analysis needs it"
        )
    return value


def scripts(code: str) -> frozenset[str]:
    """The scripts a language writes: one, or two joined by '+' (a biscriptal language)."""
    return frozenset(_needed(code, "script").split("+"))


def shares_script(a: str, b: str) -> bool:
    """Whether the two write a script in common (a biscriptal language shares either)."""
    return bool(scripts(a) & scripts(b))


def shares_family(a: str, b: str) -> bool:
    return _needed(a, "family") == _needed(b, "family")


def shared(a: str, b: str, what: str) -> bool | None:
    """Whether ``a`` and ``b`` share their ``script`` or ``family``; None where either's is
    unknown, for analyses that can leave such a pair out rather than stop."""
    if getattr(get(a), what) is None or getattr(get(b), what) is None:
        return None
    return shares_script(a, b) if what == "script" else shares_family(a, b)
