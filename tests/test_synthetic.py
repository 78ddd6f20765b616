import bz2
import hashlib
import itertools
from xml.etree import ElementTree as ET

import pytest

from bloodbank.core.config import TokenizerConfig
from bloodbank.data.synthetic.annotated import annotated_sentences, conllu_lines, iob2_lines
from bloodbank.data.synthetic.grammar import Grammar, surface
from bloodbank.data.synthetic.wikidump import write_dump
from bloodbank.data.synthetic.world import (
    collocations,
    lexicon,
    name_inventory,
    rng_for,
    synthetic_language,
)
from bloodbank.data.tokenizer import train_tokenizer

NS = "{http://www.mediawiki.org/xml/export-0.10/}"
UPOS = {
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
}


def text_of(code: str, n: int = 1500) -> list[str]:
    g = Grammar(code, 0)
    rng = rng_for("test", code)
    return [surface(g.sentence(rng)) for _ in range(n)]


def test_dump_bytes_are_reproducible(tmp_path):
    a = write_dump(tmp_path / "a.xml.bz2", "qaa", 0, 30, "20211101")
    b = write_dump(tmp_path / "b.xml.bz2", "qaa", 0, 30, "20211101")
    c = write_dump(tmp_path / "c.xml.bz2", "qaa", 1, 30, "20211101")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]


def test_dump_is_mediawiki_xml_with_real_markup(tmp_path):
    path = write_dump(tmp_path / "qacwiki.xml.bz2", "qac", 0, 80, "20211101")
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    assert root.tag == f"{NS}mediawiki" and root.get("version") == "0.10"
    assert root.find(f"{NS}siteinfo/{NS}dbname").text == "qacwiki"
    pages = root.findall(f"{NS}page")
    namespaces = {p.find(f"{NS}ns").text for p in pages}
    assert {"0", "4", "10"} <= namespaces
    assert any(p.find(f"{NS}redirect") is not None for p in pages)
    wikitext = "\n".join(p.find(f"{NS}revision/{NS}text").text for p in pages)
    for markup in ("'''", "''", "[[", "|", "{{", "<ref>", "\n== ", "\n* ", "{|", "[[Category:"):
        assert markup in wikitext, markup
    assert any("\u0400" <= ch <= "\u04ff" for ch in wikitext)  # rendered in Cyrillic


def test_languages_realise_their_declared_word_order():
    # VSO languages start with the verb; the verb carries the tense affix.
    g = Grammar("qag", 0)
    lex = lexicon("qag", 0)
    rng = rng_for("order")
    first = [g.sentence(rng)[0] for _ in range(200)]
    assert sum(t.upos == "VERB" for t in first) == 200
    assert all(
        t.form.lower().startswith(g.render(lex.past))
        or t.form.lower().startswith(g.render(lex.present))
        for t in first
    )
    # SOV: the verb comes last before the terminator in single-clause sentences.
    g = Grammar("qad", 0)
    sents = [g.sentence(rng) for _ in range(300)]
    simple = [s for s in sents if sum(t.upos == "CCONJ" for t in s) == 0]
    assert all(s[-2].upos in {"VERB", "ADV"} for s in simple)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_family_and_script_share_more_subwords_than_unrelated_languages():
    codes = ["qaa", "qab", "qal", "qae", "qac", "qad"]
    texts = {c: text_of(c) for c in codes}
    tok = train_tokenizer(
        lambda: (s for c in codes for s in texts[c]),
        TokenizerConfig(vocab_size=3000, min_frequency=2),
    )
    used = {c: {i for e in tok.encode_batch(texts[c]) for i in e.ids} for c in codes}
    same_family_script = jaccard(used["qaa"], used["qab"])  # Qalic, Latin
    same_script_only = jaccard(used["qaa"], used["qal"])  # Qalic vs Rhenic, Latin
    unrelated = jaccard(used["qaa"], used["qae"])  # Qalic Latin vs Rhenic Devanagari
    # Measured on this world: about 0.76, 0.49 and 0.03.
    assert same_family_script > 1.3 * same_script_only
    assert same_script_only > 5 * unrelated
    # Cognates only help within a script: Cyrillic Qalic and Cyrillic Rhenic share far
    # more than Rhenic written in Cyrillic and in Devanagari.
    assert jaccard(used["qac"], used["qad"]) > 5 * jaccard(used["qad"], used["qae"])


def test_conllu_is_well_formed():
    sents = annotated_sentences("qae", 0, "train", 50)
    lines = list(conllu_lines(sents, "qae-train"))
    blocks = "\n".join(lines).strip().split("\n\n")
    assert len(blocks) == 50
    for block in blocks:
        rows = [ln.split("\t") for ln in block.splitlines() if not ln.startswith("#")]
        assert all(len(r) == 10 for r in rows)
        assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
        assert sum(r[6] == "0" for r in rows) == 1
        assert all(r[3] in UPOS for r in rows)
        assert all(0 <= int(r[6]) <= len(rows) for r in rows)


def test_iob2_is_valid_and_has_every_entity_type():
    sents = annotated_sentences("qaa", 0, "dev", 300)
    tags = [ln.split("\t")[1] for ln in iob2_lines(sents) if ln]
    assert {"B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG", "O"} <= set(tags)
    prev = "O"
    for tag in tags:
        if tag.startswith("I-"):
            assert prev[2:] == tag[2:] and prev != "O"
        prev = tag


def test_splits_differ_but_repeat():
    a = annotated_sentences("qab", 0, "train", 20)
    assert a == annotated_sentences("qab", 0, "train", 20)
    assert a != annotated_sentences("qab", 0, "test", 20)


@pytest.mark.parametrize("code", ["qaa", "qae", "qai", "qah"])
def test_sentences_end_with_their_script_terminator(code):
    g = Grammar(code, 0)
    spec = g.render.spec
    ends = {surface(g.sentence(rng_for("t", i)))[-1] for i in range(100)}
    assert ends <= {spec.full_stop, spec.question}


@pytest.mark.parametrize(
    ("code", "digest"),
    [("qaa", "5c5e223a3c3daace"), ("qad", "1f904a8777851e45"), ("qam", "4ef470469ad5e18d")],
)
def test_text_of_single_script_languages_is_pinned(code, digest):
    # Every committed result rests on these streams: a generator change that moves them
    # (biscriptal languages must not) changes every world's data. Update the digest only
    # together with the results that depend on it.
    g, rng = Grammar(code, 0), rng_for("golden", code)
    text = "\n".join(surface(g.sentence(rng)) for _ in range(200))
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == digest


def script_of(sentence: str) -> str:
    letters = [ch for ch in sentence if ch.isalpha()]
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in letters)
    return "Cyrl" if cyrillic > len(letters) / 2 else "Latn"


def test_biscriptal_language_writes_its_declared_share_in_each_script():
    sentences = text_of("qas", 2000)
    share = sum(script_of(s) == "Cyrl" for s in sentences) / len(sentences)
    assert 0.45 < share < 0.55  # declared 0.5
    # A sentence is written in one script: no word mixes letters of both.
    for s in sentences[:300]:
        for word in s.split():
            scripts = {script_of(ch) for ch in word if ch.isalpha()}
            assert len(scripts) <= 1, word
    # Its Latin half shares cognates with the Latin Qalic qaa, its Cyrillic half with
    # the Cyrillic Qalic qac; qaa and qac share no word at all.
    words = {
        c: {w.strip(".,?") for s in text_of(c) for w in s.lower().split() if not w[0].isdigit()}
        for c in ("qas", "qaa", "qac")
    }
    assert len(words["qas"] & words["qaa"]) > 200
    assert len(words["qas"] & words["qac"]) > 100
    assert not words["qaa"] & words["qac"]


ORTHOGRAPHIES = {"qat": "ŵ", "qau": "ħĵ", "qav": "đǥş", "qaw": "ƒʋƶɱ"}


@pytest.mark.parametrize(("code", "own"), ORTHOGRAPHIES.items())
def test_an_orthography_writes_its_sounds_with_its_own_letters_only(code, own):
    text = "".join(text_of(code, 300))
    spec = synthetic_language(code)
    plain = {sound for sound, _ in spec.respellings}
    assert set(own) <= set(text.lower())  # each own letter is used...
    assert not plain & set(text.lower())  # ...instead of the plain one, everywhere
    # An own letter survives capitalisation (the truth compares lower-cased forms).
    for letter in own:
        assert letter.upper() != letter and letter.upper().lower() == letter
    # qaa, the plain orthography, writes none of them.
    assert not set(own) & set("".join(text_of("qaa", 300)).lower())


def test_orthographies_share_the_words_without_either_ones_own_letters():
    words = {
        c: {w.strip(".,?") for s in text_of(c) for w in s.lower().split() if not w[0].isdigit()}
        for c in ("qaa", "qat", "qaw")
    }
    shared = words["qat"] & words["qaw"]
    assert len(shared) > 100
    assert not {ch for w in shared for ch in w} & set(ORTHOGRAPHIES["qat"] + ORTHOGRAPHIES["qaw"])
    # the plain orthography shares more with each than they share with each other
    assert len(words["qaa"] & words["qaw"]) > len(shared)


def verb_objects(code: str, sentences: int = 1500) -> list[tuple[int, int]]:
    """(verb rank, rank of its object's head noun) of every clause of ``code`` whose
    object is a common noun: the first NOUN after the VERB, before any ADP or PUNCT."""
    g, rng = Grammar(code, 0), rng_for("collocations", code)
    rank = {upos: {g.render(w): i for i, w in enumerate(g.lex.words[upos])} for upos in g.lex.words}
    pairs = []
    for _ in range(sentences):
        verb = None
        for t in g.sentence(rng):
            if t.upos == "VERB":
                verb = rank["VERB"][t.lemma]
            elif verb is not None and t.upos in {"ADP", "PUNCT", "PROPN", "PRON", "CCONJ"}:
                verb = None
            elif verb is not None and t.upos == "NOUN":
                pairs.append((verb, rank["NOUN"][t.lemma]))
                verb = None
    return pairs


@pytest.mark.parametrize("code", ["qax", "qbc"])
def test_a_kelic_verb_takes_its_family_partner_as_object(code):
    partner = collocations("Kelic", 0).object_of_verb
    pairs = verb_objects(code)
    assert len(pairs) > 800
    # declared 0.9; otherwise a free draw, which is the partner only by chance
    assert 0.85 < sum(partner[v] == n for v, n in pairs) / len(pairs) < 0.95


def test_a_language_without_collocations_picks_objects_freely():
    partner = collocations("Vemic", 0).object_of_verb  # drawn, but Vemic does not use it
    pairs = verb_objects("qam")
    assert sum(partner[v] == n for v, n in pairs) / len(pairs) < 0.05


def test_a_kelic_noun_takes_its_partner_adjective():
    g, rng = Grammar("qax", 0), rng_for("adjectives", "qax")
    rank = {upos: {g.render(w): i for i, w in enumerate(g.lex.words[upos])} for upos in g.lex.words}
    adjective = collocations("Kelic", 0).adjective_of_noun
    pairs = []
    for _ in range(1500):
        tokens = g.sentence(rng)
        for a, n in itertools.pairwise(tokens):  # AdjN
            if a.upos == "ADJ" and n.upos == "NOUN":
                pairs.append((rank["ADJ"][a.lemma.lower()], rank["NOUN"][n.lemma.lower()]))
    assert len(pairs) > 500
    assert 0.85 < sum(adjective[n] == a for a, n in pairs) / len(pairs) < 0.95


def test_kelic_cognates_write_the_same_collocations():
    # The pairs belong to the family's meanings: where two daughters both kept a verb
    # and its partner noun, they write the same pair, which is what a relative can teach.
    partner = collocations("Kelic", 0).object_of_verb
    kept = [lexicon(c, 0).words for c in ("qax", "qbc")]
    alike = [
        v
        for v in range(len(partner))
        if kept[0]["VERB"][v] == kept[1]["VERB"][v]
        and kept[0]["NOUN"][partner[v]] == kept[1]["NOUN"][partner[v]]
    ]
    # about 0.95 x 0.2 of each word, squared for the pair
    assert 3 <= len(alike) <= 30
    # a fresh computation (not the cache) gives the same pairs; another world, others
    assert collocations.__wrapped__("Kelic", 0) == collocations("Kelic", 0)
    assert collocations("Kelic", 1) != collocations("Kelic", 0)


def test_a_language_with_a_respelled_share_writes_both_spellings():
    text = text_of("qbd", 400)
    own = set("ŵħĵ")
    respelled = sum(bool(own & set(s.lower())) for s in text)
    plain = sum(bool(set("whj") & set(s.lower())) for s in text)
    assert respelled > 100 and plain > 100  # half its sentences each way...
    assert not any(
        own & set(s.lower()) and set("whj") & set(s.lower()) for s in text
    )  # never mixed


def test_a_language_with_gaps_never_writes_those_sounds_and_keeps_a_smaller_lexicon():
    text = " ".join(text_of("qbe", 300)).lower()
    names = {p for parts in name_inventory(0).values() for p in parts}  # the world's, shared
    words = {w.strip(".,?") for w in text.split()} - names
    lexical = [w for w in words if w and not w[0].isdigit()]
    assert len(lexical) > 300 and not any(set("fvzm") & set(w) for w in lexical)
    nouns = lexicon("qbe", 0).words["NOUN"]
    assert 300 < len(nouns) < 600 and not any(set("fvzm") & set(n) for n in nouns)


def test_respellings_with_a_share_need_one_script():
    from dataclasses import replace

    with pytest.raises(ValueError, match="respelled share"):
        replace(synthetic_language("qaa"), respelled_share=0.5)
