"""Declared properties of the synthetic world's pseudo-languages.

The codes come from ISO 639's private-use range (qaa–qtz), so they can never
collide with a real language. Everything the generator does follows from these
records, and the language registry exposes them exactly like the script and
family of real languages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# The phoneme inventory every pseudo-language draws from. Scripts map each
# phoneme to one letter of their own Unicode block.
CONSONANTS = "ptkbdgmnslrfvzhjw"
VOWELS = "aeiou"
PHONEMES = CONSONANTS + VOWELS


@dataclass(frozen=True)
class ScriptSpec:
    """How a script renders phonemes and punctuation."""

    iso15924: str
    letters: str  # one letter per phoneme in PHONEMES order
    cased: bool
    full_stop: str = "."
    question: str = "?"
    comma: str = ","


SCRIPTS: dict[str, ScriptSpec] = {
    "Latn": ScriptSpec("Latn", "ptkbdgmnslrfvzhjwaeiou", cased=True),
    "Cyrl": ScriptSpec("Cyrl", "пткбдгмнслрфвзхйшаеиоу", cased=True),
    "Grek": ScriptSpec("Grek", "πτκβδγμνσλρφθζχξψαειου", cased=True, question="\u037e"),
    "Armn": ScriptSpec("Armn", "պտկբդգմնսլրֆվզհյւաեիոը", cased=True, full_stop="։", question="։"),
    "Geor": ScriptSpec("Geor", "პტკბდგმნსლრფვზჰჯწაეიოუ", cased=False),
    "Deva": ScriptSpec("Deva", "पटकबदगमनसलरफवजहयशअएइओउ", cased=False, full_stop="।"),
    "Hebr": ScriptSpec("Hebr", "פטכבדגמנסלרקוזהיצאעשתח", cased=False),
}


@dataclass(frozen=True)
class FamilySpec:
    """A proto-language: its own lexicon and syllable shapes."""

    name: str
    syllables: tuple[str, ...]  # CV templates, e.g. "CV", "CVC"


FAMILIES: dict[str, FamilySpec] = {
    "Qalic": FamilySpec("Qalic", ("CV", "CVC", "CV")),
    "Rhenic": FamilySpec("Rhenic", ("CVC", "VC", "CV")),
    "Tovic": FamilySpec("Tovic", ("CV", "CCV", "CVV")),
    "Zemic": FamilySpec("Zemic", ("VCV", "CV", "CVC")),
    "Vemic": FamilySpec("Vemic", ("CV", "CVC", "CVV")),
    "Kelic": FamilySpec("Kelic", ("CV", "CVC", "CVV")),
}


@dataclass(frozen=True)
class SyntheticLanguage:
    """One pseudo-language and the properties the generator realises."""

    code: str
    name: str
    family: str
    script: str
    word_order: str  # SVO, SOV or VSO
    adjective_order: str  # AdjN or NAdj
    adposition: str  # prepositions or postpositions
    inflection: str  # prefixing or suffixing
    shared_lexicon: float  # fraction of the proto-lexicon kept (with sound changes)
    sound_changes: tuple[tuple[str, str], ...] = field(default=())
    # A biscriptal language (as Serbian writes Cyrillic and Latin) writes this share of
    # its sentences in a second script: the only way one language can share a writing
    # system, and so tokens, with two groups of languages at once.
    second_script: str | None = None
    second_script_share: float = 0.0
    # Letters of its own in its main script (phoneme > letter), as Polish writes ł and
    # Czech ř: its words that contain those sounds share no subword with the other
    # languages of the script, the rest do. Graded token sharing within one script.
    respellings: tuple[tuple[str, str], ...] = field(default=())
    # The share of its sentences written with those letters; the rest spell every sound
    # plainly, as the script's other languages do (as Serbian Latin writes đ or dj). Below
    # 1 the language writes both spellings of a word, so it shares with a plain-spelling
    # language more of that language's words than that language shares of its own: a
    # donor that is no recipient.
    respelled_share: float = 1.0
    # Sounds its words never hold: proto-lexicon words with any are lost, not replaced,
    # so it has a smaller vocabulary that other languages write too: a recipient that
    # gives little (as a language of a small, borrowed vocabulary).
    gaps: str = ""
    # Collocations: the probability that a verb's object is the one noun it goes with,
    # and a noun's adjective the one adjective it goes with. Who goes with whom is the
    # family's (on the proto-lexicon's meanings), so cognates share it, and a model can
    # learn a pair it never saw in its own text from a relative that writes both words
    # alike: knowledge that only more data teaches, not more epochs.
    collocation: float = 0.0

    def __post_init__(self) -> None:
        if self.respelled_share < 1.0 and (self.second_script or not self.respellings):
            raise ValueError(f"{self.code}: a respelled share needs respellings and one script")

    @property
    def scripts(self) -> tuple[str, ...]:
        """Every script the language writes, its main one first."""
        return (self.script,) if self.second_script is None else (self.script, self.second_script)

    @property
    def script_label(self) -> str:
        """The registry's script: ISO 15924, joined by '+' for a biscriptal language."""
        return "+".join(self.scripts)

    def features(self) -> dict[str, str]:
        return {
            "word_order": self.word_order,
            "adjective_order": self.adjective_order,
            "adposition": self.adposition,
            "inflection": self.inflection,
        }


def _lang(
    code: str,
    name: str,
    family: str,
    script: str,
    order: str,
    adj: str,
    adp: str,
    infl: str,
    shared: float,
    changes: str = "",
    second: tuple[str, float] | None = None,
    respell: str = "",
) -> SyntheticLanguage:
    pairs, letters = _rules(changes), _rules(respell)
    second_script, share = second if second else (None, 0.0)
    syntax = (order, adj, adp, infl)
    return SyntheticLanguage(
        code, name, family, script, *syntax, shared, pairs, second_script, share, letters
    )  # type: ignore[arg-type]


def _rules(text: str) -> tuple[tuple[str, str], ...]:
    """'p>f t>d' as (('p', 'f'), ('t', 'd'))."""
    return tuple(tuple(c.split(">")) for c in text.split()) if text else ()  # type: ignore[misc]


def _knowing(code: str, name: str, shared: float) -> SyntheticLanguage:
    """A Kelic language: the Vemic continuum's design, with collocations (the knowledge world)."""
    syntax = ("SVO", "AdjN", "prepositions", "suffixing")
    return replace(_lang(code, name, "Kelic", "Latn", *syntax, shared), collocation=0.9)


def _orthography(code: str, name: str, respell: str) -> SyntheticLanguage:
    """A Qalic language that is qaa in all but its own letters (the letters world)."""
    syntax = ("SVO", "AdjN", "prepositions", "suffixing")
    return _lang(code, name, "Qalic", "Latn", *syntax, 0.9, respell=respell)


SYNTHETIC_LANGUAGES: tuple[SyntheticLanguage, ...] = (
    # Qalic: a close-knit family split over two scripts.
    _lang("qaa", "Qalian", "Qalic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.9),
    _lang(
        "qab", "Qabric", "Qalic", "Latn", "SVO", "NAdj", "prepositions", "suffixing", 0.8, "p>f t>d"
    ),
    _lang(
        "qac", "Qacian", "Qalic", "Cyrl", "SVO", "AdjN", "prepositions", "suffixing", 0.8, "k>h o>u"
    ),
    # Rhenic: verb-final languages.
    _lang("qad", "Rhedish", "Rhenic", "Cyrl", "SOV", "AdjN", "postpositions", "suffixing", 0.85),
    _lang(
        "qae",
        "Rhenish",
        "Rhenic",
        "Deva",
        "SOV",
        "AdjN",
        "postpositions",
        "suffixing",
        0.8,
        "s>z e>i",
    ),
    _lang(
        "qaf", "Rheshti", "Rhenic", "Deva", "SOV", "NAdj", "postpositions", "prefixing", 0.7, "b>p"
    ),
    # Tovic: verb-initial, prefixing.
    _lang("qag", "Tovan", "Tovic", "Grek", "VSO", "NAdj", "prepositions", "prefixing", 0.85),
    _lang(
        "qah", "Tovesh", "Tovic", "Hebr", "VSO", "NAdj", "prepositions", "prefixing", 0.8, "d>t a>o"
    ),
    # Zemic: isolates of the world, each in its own script.
    _lang("qai", "Zemian", "Zemic", "Armn", "SOV", "NAdj", "postpositions", "suffixing", 0.85),
    _lang(
        "qaj",
        "Zemori",
        "Zemic",
        "Geor",
        "SVO",
        "AdjN",
        "postpositions",
        "prefixing",
        0.75,
        "g>k i>e",
    ),
    _lang(
        "qak", "Qakese", "Qalic", "Grek", "SVO", "AdjN", "prepositions", "suffixing", 0.75, "m>n"
    ),
    _lang(
        "qal",
        "Rhelan",
        "Rhenic",
        "Latn",
        "SOV",
        "AdjN",
        "postpositions",
        "suffixing",
        0.75,
        "r>l u>o",
    ),
    # Vemic: a calibration family. One script, one syntax, no sound changes: its
    # languages differ only in how much of the proto-lexicon each kept, so every pair
    # shares a graded amount of words and the planted truth has no ties to speak of.
    _lang("qam", "Vemian", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.95),
    _lang("qan", "Vemori", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.8),
    _lang("qao", "Vemesh", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.65),
    _lang("qap", "Vemlan", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.5),
    _lang("qaq", "Vemtic", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.35),
    _lang("qar", "Vemdar", "Vemic", "Latn", "SVO", "AdjN", "prepositions", "suffixing", 0.2),
    # A biscriptal Qalic language: half its sentences in Latin, half in Cyrillic, so it
    # shares tokens with the Latin and the Cyrillic languages alike (the hub world).
    _lang(
        "qas",
        "Qasian",
        "Qalic",
        "Latn",
        "SVO",
        "AdjN",
        "prepositions",
        "suffixing",
        0.9,
        second=("Cyrl", 0.5),
    ),
    # Qalic orthographies: qaa's family, script and syntax, each spelling a few sounds
    # with letters of its own (1, 2, 3 and 4 sounds, none shared). A word shares its
    # subwords with another language only if it has none of either's own letters, so
    # qaa, which has none, shares most with each (the letters world).
    _orthography("qat", "Qatian", "w>ŵ"),
    _orthography("qau", "Qausian", "h>ħ j>ĵ"),
    _orthography("qav", "Qavian", "d>đ g>ǥ s>ş"),
    _orthography("qaw", "Qawric", "f>ƒ v>ʋ z>ƶ m>ɱ"),
    # Two more Qalic orthographies that make the planted truth asymmetric (the
    # asymmetric world). qbd writes half its sentences with letters of its own and half
    # plainly, so it writes both spellings of a word: it writes nearly all of qaa's
    # words, and qaa only those of its plain half (a donor, type O). qbe's words never
    # hold the sounds qaw spells its own way, so it keeps about half the proto-lexicon
    # and every other language writes most of what it says (a recipient, type AB+).
    replace(_orthography("qbd", "Qabdian", "w>ŵ h>ħ j>ĵ"), respelled_share=0.5),
    replace(_orthography("qbe", "Qebian", ""), gaps="fvzm"),
    # qaa written in Cyrillic: Qalic, qaa's syntax, no sound changes, so it shares words
    # with qac (the Qalic Cyrillic language with sound changes) and none with the Latin
    # languages (the default world's second script).
    _lang("qbf", "Qabfian", "Qalic", "Cyrl", "SVO", "AdjN", "prepositions", "suffixing", 0.9),
    # Kelic: the Vemic continuum again (one script, one syntax, no sound changes, 95% to
    # 20% of the proto-lexicon kept), but verbs and nouns keep company: each verb has
    # the one noun it mostly takes as object, each noun its adjective (the knowledge
    # world).
    _knowing("qax", "Kelian", 0.95),
    _knowing("qay", "Kelori", 0.8),
    _knowing("qaz", "Keleshi", 0.65),
    _knowing("qba", "Kelan", 0.5),
    _knowing("qbb", "Keltic", 0.35),
    _knowing("qbc", "Keldar", 0.2),
)
