import re

import pytest

from bloodbank.core import languages as L
from bloodbank.core.synthetic_spec import PHONEMES, SCRIPTS, SYNTHETIC_LANGUAGES


def test_registry_holds_the_study_languages():
    assert len(L.PAPER_STUDIED) == 22
    assert len(L.PAPER_TOKENIZER_ONLY) == 19
    assert not set(L.PAPER_STUDIED) & set(L.PAPER_TOKENIZER_ONLY)
    assert all(L.get(c).studied for c in L.PAPER_STUDIED)
    assert L.get("fi").family == "Uralic" and L.get("fi").wiki_mchars == 131
    assert L.get("my").script == "Mymr" and L.get("en").wiki_mchars == 14433


def test_every_language_has_iso15924_script_and_safe_code():
    for lang in L.REGISTRY.values():
        assert re.fullmatch(r"[A-Z][a-z]{3}(\+[A-Z][a-z]{3})?", lang.script), lang
        assert L.CODE_PATTERN.match(lang.code)


def test_synthetic_languages_are_private_use_and_carry_features():
    for spec in SYNTHETIC_LANGUAGES:
        lang = L.get(spec.code)
        assert "qaa" <= lang.code <= "qtz"
        assert lang.synthetic and lang.family == spec.family and lang.script == spec.script_label
        assert set(lang.features) == {"word_order", "adjective_order", "adposition", "inflection"}


def test_scripts_map_every_phoneme_to_a_distinct_letter():
    for spec in SCRIPTS.values():
        assert len(spec.letters) == len(set(spec.letters)) == len(PHONEMES)


@pytest.mark.parametrize("bad", ["../etc", "EN", "e", "english", "en/x", ""])
def test_unsafe_codes_are_rejected(bad):
    with pytest.raises(L.UnknownLanguageError, match="not of the form"):
        L.check_code(bad)


def test_unknown_code_is_rejected_with_its_name():
    with pytest.raises(L.UnknownLanguageError, match="unknown language code 'xx'"):
        L.check_code("xx")


def test_shares_script_and_family():
    assert L.shares_script("hi", "ne") and L.shares_family("hi", "ne")
    assert not L.shares_script("he", "ar") and L.shares_family("he", "ar")
    assert L.shares_family("qaa", "qac") and not L.shares_script("qaa", "qac")
    # a biscriptal language shares a script with either side, which still share none
    assert L.get("qas").script == "Latn+Cyrl" and L.scripts("qas") == {"Latn", "Cyrl"}
    assert L.shares_script("qas", "qaa") and L.shares_script("qas", "qad")
    assert not L.shares_script("qaa", "qad")
