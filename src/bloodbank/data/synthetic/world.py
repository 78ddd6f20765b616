"""A deterministic multilingual world: proto-lexicons, daughter languages, names.

Each family has a proto-lexicon. A daughter language keeps a declared fraction
of it, reshaped by its sound changes, and invents the rest. Names of people,
places and organisations are shared by the whole world and rendered in each
script. So languages of one family and script share many subwords, languages
of one script share names, and unrelated languages share almost nothing: the
structure the transfer study is meant to discover.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

from bloodbank.core.synthetic_spec import (
    CONSONANTS,
    FAMILIES,
    PHONEMES,
    SCRIPTS,
    SYNTHETIC_LANGUAGES,
    VOWELS,
    SyntheticLanguage,
)

# Open-class sizes of every lexicon, and closed-class sizes.
LEXICON_SIZES = {
    "NOUN": 900,
    "VERB": 300,
    "ADJ": 200,
    "ADV": 12,
    "DET": 4,
    "ADP": 8,
    "PRON": 6,
    "CCONJ": 3,
}
NAME_SIZES = {"given": 150, "surname": 250, "place": 250}
ZIPF_EXPONENT = 1.07
ZIPF_OFFSET = 2.7


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by a string key: stable across processes and Python runs."""
    return random.Random(":".join(str(p) for p in parts))


def _syllable(rng: random.Random, template: str) -> str:
    return "".join(rng.choice(CONSONANTS if t == "C" else VOWELS) for t in template)


def make_word(
    rng: random.Random, templates: tuple[str, ...], min_syl: int = 1, max_syl: int = 3
) -> str:
    return "".join(
        _syllable(rng, rng.choice(templates)) for _ in range(rng.randint(min_syl, max_syl))
    )


def _unique_words(
    rng: random.Random,
    templates: tuple[str, ...],
    n: int,
    min_syl: int,
    max_syl: int,
    taken: set[str],
) -> list[str]:
    words: list[str] = []
    while len(words) < n:
        w = make_word(rng, templates, min_syl, max_syl)
        if w not in taken and len(w) >= 2:
            taken.add(w)
            words.append(w)
    return words


def apply_sound_changes(word: str, changes: tuple[tuple[str, str], ...]) -> str:
    for old, new in changes:
        word = word.replace(old, new)
    return word


class ZipfSampler:
    """Draws indices 0..n-1 with Zipf–Mandelbrot probabilities."""

    def __init__(self, n: int) -> None:
        weights = [1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT for rank in range(n)]
        self._cum = list(accumulate(weights))

    def __call__(self, rng: random.Random) -> int:
        return min(bisect(self._cum, rng.random() * self._cum[-1]), len(self._cum) - 1)


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, tuple[str, ...]]  # UPOS -> phonemic forms, most frequent first
    plural: str
    past: str
    present: str


@cache
def proto_lexicon(family: str, world_seed: int) -> Lexicon:
    """The proto-language of a family: every daughter starts from it."""
    spec = FAMILIES[family]
    rng = rng_for("proto", family, world_seed)
    taken: set[str] = set()
    words = {}
    for upos, n in LEXICON_SIZES.items():
        closed = upos in {"DET", "ADP", "PRON", "CCONJ"}
        words[upos] = tuple(_unique_words(rng, spec.syllables, n, 1, 1 if closed else 3, taken))
    affixes = _unique_words(rng, ("CV", "VC"), 3, 1, 1, taken)
    return Lexicon(words, *affixes)


@cache
def lexicon(code: str, world_seed: int) -> Lexicon:
    """A daughter language's lexicon: kept cognates plus its own innovations."""
    lang = synthetic_language(code)
    proto = proto_lexicon(lang.family, world_seed)
    rng = rng_for("lexicon", code, world_seed)
    templates = FAMILIES[lang.family].syllables
    taken: set[str] = set()
    words: dict[str, tuple[str, ...]] = {}
    for upos, forms in proto.words.items():
        out = []
        for form in forms:
            if rng.random() < lang.shared_lexicon:
                w = apply_sound_changes(form, lang.sound_changes)
            else:
                w = make_word(rng, templates, 1, 1 if len(form) <= 3 else 3)
            while w in taken or len(w) < 2:  # keep forms unambiguous within the language
                w = make_word(rng, templates, 1, 3)
            taken.add(w)
            out.append(w)
        words[upos] = _without_gaps(tuple(out), lang.gaps)
    changes = lang.sound_changes
    return Lexicon(
        words, *(apply_sound_changes(a, changes) for a in (proto.plural, proto.past, proto.present))
    )


def _without_gaps(forms: tuple[str, ...], gaps: str) -> tuple[str, ...]:
    """``forms`` without those that hold any of the sounds in ``gaps``, in rank order; a
    class that would lose every word keeps its most frequent."""
    if not gaps:
        return forms
    kept = tuple(f for f in forms if not set(f) & set(gaps))
    return kept or forms[:1]


@dataclass(frozen=True)
class Collocations:
    """Who goes with whom in a family, by proto-lexicon index (rank): the object noun of
    each verb and the adjective of each noun. Daughters inherit it with the meanings,
    whether they kept a word's form or replaced it."""

    object_of_verb: tuple[int, ...]
    adjective_of_noun: tuple[int, ...]


@cache
def collocations(family: str, world_seed: int) -> Collocations:
    """The family's collocations: partners drawn uniformly, so most pairs are rare and a
    language's own text shows each only a few times."""
    rng = rng_for("collocations", family, world_seed)
    objects = tuple(rng.randrange(LEXICON_SIZES["NOUN"]) for _ in range(LEXICON_SIZES["VERB"]))
    adjectives = tuple(rng.randrange(LEXICON_SIZES["ADJ"]) for _ in range(LEXICON_SIZES["NOUN"]))
    return Collocations(objects, adjectives)


@cache
def name_inventory(world_seed: int) -> dict[str, tuple[str, ...]]:
    """Names shared by every language of the world, in phonemic form."""
    rng = rng_for("names", world_seed)
    taken: set[str] = set()
    return {
        kind: tuple(_unique_words(rng, ("CV", "CVC", "VC"), n, 2, 3, taken))
        for kind, n in NAME_SIZES.items()
    }


def synthetic_language(code: str) -> SyntheticLanguage:
    for lang in SYNTHETIC_LANGUAGES:
        if lang.code == code:
            return lang
    raise KeyError(f"{code!r} is not a synthetic language")


class Renderer:
    """Writes phonemic forms in a script, with a language's own letters if it has any."""

    def __init__(self, script: str, respellings: tuple[tuple[str, str], ...] = ()) -> None:
        self.spec = SCRIPTS[script]
        self._table = str.maketrans(PHONEMES, self.spec.letters)
        self._table.update({ord(phoneme): letter for phoneme, letter in respellings})

    def __call__(self, phonemes: str, capital: bool = False) -> str:
        text = phonemes.translate(self._table)
        if capital and self.spec.cased:
            text = text[:1].upper() + text[1:]
        return text


@dataclass(frozen=True)
class Writing:
    """One way a language writes its sentences: a script, a renderer and its share."""

    script: str
    render: Renderer
    share: float


def writings(lang: SyntheticLanguage) -> tuple[Writing, ...]:
    """How the language writes, its main writing first: one, or a second script
    (``second_script``) or the plain spelling beside its own letters
    (``respelled_share``). Its own letters belong to its main script only."""
    own = Renderer(lang.script, lang.respellings)
    if lang.second_script:
        second = Renderer(lang.second_script)
        share = lang.second_script_share
        return Writing(lang.script, own, 1 - share), Writing(lang.second_script, second, share)
    if lang.respelled_share < 1.0:
        plain, share = Renderer(lang.script), lang.respelled_share
        return Writing(lang.script, plain, 1 - share), Writing(lang.script, own, share)
    return (Writing(lang.script, own, 1.0),)
