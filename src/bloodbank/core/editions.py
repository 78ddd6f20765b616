"""Every Wikipedia edition, and what the libraries know about its language.

The list of editions is pywikibot's (its Wikipedia family, closed editions included).
Names and likely scripts are CLDR's, through langcodes and language-data; a family is
the top-level family URIEL (lang2vec's data, after Glottolog) files the language under.
The one table written here holds what no library keeps: the editions whose prefix is
not their language's code (``als`` is Alemannic, ``simple`` Simple English). A field no
library knows is None, and the analyses that need it say so (``core.languages``).

Everything is read lazily and once: a pipeline of the study's languages or of
synthetic ones never reads pywikibot's list or imports langcodes.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from bloodbank.core.errors import BloodbankError

# edition prefix -> (the project's code for it, its language in English). The code is
# the ISO 639 code where one exists; otherwise the prefix itself (no ISO code names it).
PREFIX_FACTS: dict[str, tuple[str, str]] = {
    "als": ("gsw", "Alemannic German"),
    "bat-smg": ("sgs", "Samogitian"),
    "be-tarask": ("be-tarask", "Belarusian (Taraškievica)"),
    "bh": ("bho", "Bhojpuri"),
    "cbk-zam": ("cbk", "Chavacano"),
    "eml": ("eml", "Emilian-Romagnol"),
    "fiu-vro": ("vro", "Võro"),
    "isv": ("isv", "Interslavic"),
    "map-bms": ("map-bms", "Banyumasan"),
    "nds-nl": ("nds-nl", "Dutch Low Saxon"),
    "nrm": ("nrf", "Norman"),
    "roa-rup": ("rup", "Aromanian"),
    "roa-tara": ("roa-tara", "Tarantino"),
    "rsk": ("rsk", "Pannonian Rusyn"),
    "sh": ("sh", "Serbo-Croatian"),
    "simple": ("en-simple", "Simple English"),
    "tok": ("tok", "Toki Pona"),
    "zh-classical": ("lzh", "Classical Chinese"),
    "zh-min-nan": ("nan", "Min Nan Chinese"),
    "zh-yue": ("yue", "Cantonese"),
}
# the few whose dumps keep an older database name than the prefix
DUMP_NAMES = {"be-tarask": "be_x_old"}
# URIEL's names for families the registry's own rows (the study's) name otherwise
FAMILY_NAMES = {"Atlantic-Congo": "Niger-Congo", "Tai-Kadai": "Kra-Dai"}
# the language whose family and script an edition takes where its code has none
LANGUAGE_OF = {"en-simple": "en", "be-tarask": "be", "map-bms": "jv", "nds-nl": "nds"}


class UrielUnavailable(BloodbankError, RuntimeError):
    """lang2vec (URIEL) is not installed; real languages then have no typology or family."""


def uriel_data() -> Path:
    """The installed lang2vec distribution's data folder. Not ``find_spec``: the wheel
    also installs a ``bin/lang2vec.py`` script, which shadows the package when ``bin/`` is
    on sys.path (as under the ``pytest`` console script)."""
    try:
        data = Path(str(metadata.distribution("lang2vec").locate_file("lang2vec/data")))
    except metadata.PackageNotFoundError:
        raise UrielUnavailable("the lang2vec package (URIEL data) is not installed") from None
    if not (data / "features.npz").is_file():
        raise UrielUnavailable(f"{data}: lang2vec is installed without its URIEL data")
    return data


@dataclass(frozen=True)
class Edition:
    """A Wikipedia edition: its prefix, the project's code for its language, the dump's
    database prefix (``<dump>wiki``), and what the libraries know (None: unknown)."""

    prefix: str | None  # None: a language with no edition of its own
    code: str
    dump: str
    name: str | None
    script: str | None
    family: str | None
    closed: bool = False


class EditionsUnavailable(BloodbankError, RuntimeError):
    """pywikibot, whose Wikipedia family lists the editions, is missing or changed."""


@cache
def _wikipedia() -> tuple[tuple[str, ...], frozenset[str]]:
    """Every edition's prefix (open and closed), and the closed ones, as pywikibot's
    Wikipedia family declares them (``codes``, ``closed_wikis``). The file's literals are
    read, not imported: importing pywikibot loads its configuration, writes a folder in
    the home directory and hooks the interpreter's exit, all for two lists."""
    spec = importlib.util.find_spec("pywikibot")
    if spec is None or not spec.submodule_search_locations:
        raise EditionsUnavailable("pywikibot, which lists Wikipedia's editions, is not installed")
    path = Path(spec.submodule_search_locations[0]) / "families" / "wikipedia_family.py"
    found = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in ("codes", "closed_wikis"):
                found[name] = ast.literal_eval(node.value)
    if set(found) != {"codes", "closed_wikis"}:
        raise EditionsUnavailable(f"{path}: no longer declares codes and closed_wikis")
    closed = frozenset(found["closed_wikis"])
    return tuple(sorted(set(found["codes"]) | closed)), closed


@cache
def _families() -> dict[str, str]:
    """ISO 639-3 code -> its top-level family in URIEL: of the family features a language
    has, the one with the most member languages (a family is wider than its branches)."""
    import numpy as np

    try:
        path = uriel_data() / "family_features.npz"
    except UrielUnavailable:
        return {}
    with np.load(path, allow_pickle=False) as db:
        member = db["data"][:, :, 0] > 0
        langs, feats = db["langs"], db["feats"]
    size = member.sum(axis=0)
    out = {}
    for row, code in enumerate(langs):
        columns = np.flatnonzero(member[row])
        if len(columns):
            name = str(feats[columns[np.argmax(size[columns])]]).removeprefix("F_")
            out[str(code)] = FAMILY_NAMES.get(name, name)
    return out


def _known(code: str) -> tuple[str | None, str | None, str | None]:
    """(name, likely script, family) of an ISO 639 code, each None where unknown."""
    import langcodes

    try:
        lang = langcodes.Language.get(code)
    except (ValueError, LookupError):
        return None, None, None
    if not lang.is_valid():
        return None, None, None
    name = lang.display_name()
    script = lang.maximize().script
    family = _families().get(lang.to_alpha3())
    return name, script, family


def _edition(prefix: str, closed: frozenset[str]) -> Edition:
    code, name = PREFIX_FACTS.get(prefix, (prefix, None))
    known_name, script, family = _known(LANGUAGE_OF.get(code, code))
    dump = DUMP_NAMES.get(prefix, prefix.replace("-", "_"))
    return Edition(prefix, code, dump, name or known_name, script, family, prefix in closed)


def editions() -> dict[str, Edition]:
    """Every Wikipedia edition, by the project's code for its language (about 2 s)."""
    prefixes, closed = _wikipedia()
    return {e.code: e for e in (_edition(p, closed) for p in prefixes)}


@cache
def describe(code: str) -> Edition | None:
    """The edition of ``code``, or, for a valid ISO 639 code with no edition, what the
    libraries know of it (its dump prefix then is the code); None for neither."""
    prefixes, closed = _wikipedia()
    prefix = next((p for p, (c, _) in PREFIX_FACTS.items() if c == code), code)
    if prefix in prefixes:
        return _edition(prefix, closed)
    name, script, family = _known(code)
    if name is None:
        return None
    return Edition(None, code, code.replace("-", "_"), name, script, family)
