"""A probabilistic grammar that writes gold-annotated sentences.

Every token carries its Universal Dependencies UPOS tag and an IOB2 entity
tag, so the same generator feeds the pretraining corpus (text only) and the
downstream POS and NER data sets.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bloodbank.data.synthetic.world import (
    Collocations,
    Lexicon,
    Renderer,
    ZipfSampler,
    collocations,
    lexicon,
    name_inventory,
    synthetic_language,
    writings,
)


@dataclass(frozen=True)
class Token:
    form: str
    upos: str
    ner: str = "O"
    lemma: str = "_"


class Grammar:
    """Sentence generator for one synthetic language."""

    def __init__(self, code: str, world_seed: int) -> None:
        self.lang = synthetic_language(code)
        self.lex: Lexicon = lexicon(code, world_seed)
        self.names = name_inventory(world_seed)
        ways = writings(self.lang)
        self.render: Renderer = ways[0].render
        self._second = ways[1] if len(ways) > 1 else None
        self._samplers = {upos: ZipfSampler(len(forms)) for upos, forms in self.lex.words.items()}
        self._name_samplers = {k: ZipfSampler(len(v)) for k, v in self.names.items()}
        self._company: Collocations | None = (
            collocations(self.lang.family, world_seed) if self.lang.collocation > 0 else None
        )

    # -- words -------------------------------------------------------------
    def _inflect(self, stem: str, affix: str) -> str:
        return affix + stem if self.lang.inflection == "prefixing" else stem + affix

    def _simple(
        self, rng: random.Random, upos: str, affix: str = "", index: int | None = None
    ) -> Token:
        """A word of class ``upos``: the one at ``index`` (its rank), else a Zipf draw."""
        stem = self.lex.words[upos][self._samplers[upos](rng) if index is None else index]
        form = self._inflect(stem, affix) if affix else stem
        return Token(self.render(form), upos, lemma=self.render(stem))

    def _partner(self, rng: random.Random, table: str, index: int) -> int | None:
        """The collocate of word ``index`` in ``table``, with the language's probability;
        None (a free choice) otherwise. Draws nothing for a language without collocations,
        so every other language's text is what it was before they existed."""
        if self._company is None or rng.random() >= self.lang.collocation:
            return None
        return getattr(self._company, table)[index]

    def name(self, rng: random.Random, kind: str | None = None) -> list[Token]:
        """A multi-token named entity: PER, LOC or ORG."""
        kind = kind or rng.choice(("PER", "LOC", "ORG"))
        pick = {k: (lambda k=k: self.names[k][self._name_samplers[k](rng)]) for k in self.names}
        if kind == "PER":
            parts = [pick["given"](), pick["surname"]()]
        elif kind == "LOC":
            parts = [pick["place"]()] + ([pick["place"]()] if rng.random() < 0.2 else [])
        else:
            parts = [pick["surname"](), self.lex.words["NOUN"][rng.randrange(5)]]
        tokens = []
        for i, p in enumerate(parts):
            form = self.render(p, capital=True)
            tokens.append(Token(form, "PROPN", ("B-" if i == 0 else "I-") + kind, form))
        return tokens

    # -- phrases -----------------------------------------------------------
    def noun_phrase(
        self, rng: random.Random, subject: list[Token] | None = None, noun: int | None = None
    ) -> list[Token]:
        """A noun phrase; ``noun`` (a rank) makes it a common noun's, headed by that noun."""
        if subject is not None:
            return subject
        if noun is None:
            r = rng.random()
            if r < 0.22:
                return self.name(rng)
            if r < 0.32:
                return [self._simple(rng, "PRON")]
        plural = rng.random() < 0.3
        if noun is None:
            noun = self._samplers["NOUN"](rng)
        head = self._simple(rng, "NOUN", self.lex.plural if plural else "", noun)
        phrase = [head]
        if rng.random() < 0.35:
            adj = self._simple(rng, "ADJ", index=self._partner(rng, "adjective_of_noun", noun))
            phrase = [adj, head] if self.lang.adjective_order == "AdjN" else [head, adj]
        if plural and rng.random() < 0.15:
            phrase = [Token(str(rng.randint(2, 1999)), "NUM"), *phrase]
        elif rng.random() < 0.5:
            phrase = [self._simple(rng, "DET"), *phrase]
        return phrase

    def adpositional_phrase(self, rng: random.Random) -> list[Token]:
        adp = self._simple(rng, "ADP")
        np = self.noun_phrase(rng)
        return [adp, *np] if self.lang.adposition == "prepositions" else [*np, adp]

    def clause(self, rng: random.Random, subject: list[Token] | None = None) -> list[Token]:
        tense = self.lex.past if rng.random() < 0.5 else self.lex.present
        verb_index = self._samplers["VERB"](rng)
        verb = [self._simple(rng, "VERB", tense, verb_index)]
        if rng.random() < 0.15:
            verb.append(self._simple(rng, "ADV"))
        subj = self.noun_phrase(rng, subject)
        if rng.random() < 0.8:
            obj = self.noun_phrase(rng, noun=self._partner(rng, "object_of_verb", verb_index))
        else:
            obj = []
        pp = self.adpositional_phrase(rng) if rng.random() < 0.45 else []
        order = self.lang.word_order
        if order == "SVO":
            return subj + verb + obj + pp
        if order == "SOV":
            return subj + obj + pp + verb
        return verb + subj + obj + pp  # VSO

    @contextmanager
    def _script_of_sentence(self, rng: random.Random) -> Iterator[None]:
        """Renders one sentence in the second writing (a second script, or the spelling
        with its own letters), with its share, if the language has one.

        Only a language with two writings draws from ``rng`` here, so every other
        language's text stays byte for byte what it was before they existed.
        """
        if self._second is None or rng.random() >= self._second.share:
            yield
            return
        main, self.render = self.render, self._second.render
        try:
            yield
        finally:
            self.render = main

    def sentence(self, rng: random.Random, subject: list[Token] | None = None) -> list[Token]:
        """One sentence with its terminator; ``subject`` pins the first clause's subject."""
        with self._script_of_sentence(rng):
            return self._sentence(rng, subject)

    def _sentence(self, rng: random.Random, subject: list[Token] | None) -> list[Token]:
        tokens = self.clause(rng, subject)
        if rng.random() < 0.2:
            spec = self.render.spec
            tokens += [Token(spec.comma, "PUNCT"), self._simple(rng, "CCONJ"), *self.clause(rng)]
        question = rng.random() < 0.08
        end = self.render.spec.question if question else self.render.spec.full_stop
        tokens.append(Token(end, "PUNCT"))
        first = tokens[0]
        if first.upos != "PROPN" and self.render.spec.cased:
            tokens[0] = Token(
                first.form[:1].upper() + first.form[1:], first.upos, first.ner, first.lemma
            )
        return tokens


def surface(tokens: list[Token]) -> str:
    """Plain text of a sentence: punctuation attaches to the word before it."""
    out: list[str] = []
    for tok in tokens:
        if tok.upos == "PUNCT" and out:
            out[-1] += tok.form
        else:
            out.append(tok.form)
    return " ".join(out)
