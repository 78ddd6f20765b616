"""The planted truth: how much each synthetic language should help each other one.

The generator decides what two pseudo-languages share: a cognate survives in both
when each kept it from the family's proto-lexicon, no sound change of either touched
it, and neither spells any of its sounds with a letter of its own (``respellings``);
a name is shared when both write it alike in the same script. Nothing else is shared
on the surface (different scripts share no letters). So the expected
transfer from s to t is taken to be the **word overlap**: the share of t's running
words (punctuation and numerals aside) that s's generator also writes, letter for
letter and ignoring case, each weighted by how well s's text covers t's use of that
word's script: the share of s's sentences in the script over the share of t's, capped
at 1. The weight is 1 between languages of one script. A biscriptal source (half Latin,
half Cyrillic) counts half for a Latin target's words, since its model saw Latin in
only half its text; a Latin source counts fully for a biscriptal target's Latin words.
Without the weight, the hub world's truth made a biscriptal source the top donor by
far, which no seed's measured graph showed (README: "A world with a hub").

It is computed from the generator itself, not from any sample or trained model:
t's word frequencies come from ``sentences`` sentences of t's own grammar (a seeded
stream of its own, not the pipeline's text), and s's words are its whole lexicon,
inflected forms included, plus the world's names in s's script. Word order, which
the generator also varies, is *not* part of it: the measured graph may show an
effect of syntax on top of the overlap, and that would be a finding.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import pandas as pd

from bloodbank.data.synthetic.grammar import Grammar
from bloodbank.data.synthetic.world import rng_for, synthetic_language, writings

SKIPPED = frozenset({"PUNCT", "NUM"})  # shared by every script, carry no lexicon


@cache
def written_scripts(code: str, world_seed: int) -> dict[str, str]:
    """Every word form ``code``'s generator can write, lower-cased, and its script
    (scripts share no letters, so a form has one)."""
    g = Grammar(code, world_seed)
    lex = g.lex
    affixes = {"NOUN": ("", lex.plural), "VERB": (lex.past, lex.present)}
    phonemic: set[str] = set()
    for upos, stems in lex.words.items():
        for stem in stems:
            phonemic.update(g._inflect(stem, a) if a else stem for a in affixes.get(upos, ("",)))
    for parts in g.names.values():
        phonemic.update(parts)
    return {w.render(form).lower(): w.script for w in writings(g.lang) for form in phonemic}


def written_forms(code: str, world_seed: int) -> frozenset[str]:
    """Every word form ``code``'s generator can write, lower-cased."""
    return frozenset(written_scripts(code, world_seed))


def script_shares(code: str) -> dict[str, float]:
    """The share of ``code``'s sentences written in each of its scripts."""
    shares: dict[str, float] = {}
    for way in writings(synthetic_language(code)):
        shares[way.script] = shares.get(way.script, 0.0) + way.share
    return shares


def script_coverage(src: str, tgt: str) -> dict[str, float]:
    """Per script of ``src``: its share of src's sentences over its share of tgt's,
    capped at 1 (how fully src's text shows a model what tgt writes in it)."""
    need = script_shares(tgt)
    return {
        script: min(1.0, share / need[script]) if need.get(script) else 0.0
        for script, share in script_shares(src).items()
    }


@cache
def word_frequencies(code: str, world_seed: int, sentences: int) -> Counter[str]:
    """Word counts (lower-cased) of ``sentences`` sentences of ``code``'s grammar."""
    g = Grammar(code, world_seed)
    rng = rng_for("planted-truth", code, world_seed)
    counts: Counter[str] = Counter()
    for _ in range(sentences):
        counts.update(t.form.lower() for t in g.sentence(rng) if t.upos not in SKIPPED)
    return counts


def overlap(src: str, tgt: str, world_seed: int, sentences: int = 4000) -> float:
    """Share of ``tgt``'s running words that ``src`` also writes (0..1), each weighted by
    :func:`script_coverage` of its script."""
    counts = word_frequencies(tgt, world_seed, sentences)
    scripts = written_scripts(src, world_seed)
    coverage = script_coverage(src, tgt)
    shared = sum(n * coverage[scripts[w]] for w, n in counts.items() if w in scripts)
    return shared / sum(counts.values())


def is_planted(codes: list[str]) -> bool:
    """Whether every language is a synthetic one (only then is there a planted truth)."""
    try:
        for code in codes:
            synthetic_language(code)
    except KeyError:
        return False
    return True


def planted_truth(codes: list[str], world_seed: int, sentences: int = 4000) -> pd.DataFrame:
    """Expected transfer in percent, rows sources and columns targets (like F).

    The diagonal is 100 (a language shares all its words with itself) and is not part
    of any comparison with F.
    """
    rows = {s: [100.0 * overlap(s, t, world_seed, sentences) for t in codes] for s in codes}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=codes)
    frame.index.name, frame.columns.name = "source", None
    return frame.round(2)
