"""Every Wikipedia edition from well-kept libraries, and languages they cannot place."""

from __future__ import annotations

import pytest

from bloodbank.core import languages as L
from bloodbank.core.editions import PREFIX_FACTS, describe, editions


def test_every_wikipedia_edition_is_known_with_its_prefix_and_dump_name():
    found = editions()
    assert len(found) >= 300
    assert {"en", "fi", "yo", "gsw", "yue", "en-simple", "lzh"} <= set(found)
    assert found["gsw"].prefix == "als" and found["gsw"].dump == "als"
    assert found["yue"].prefix == "zh-yue" and found["yue"].dump == "zh_yue"
    assert found["be-tarask"].dump == "be_x_old"  # the dumps' older database name
    assert found["aa"].closed and not found["en"].closed
    assert all(L.CODE_PATTERN.match(code) for code in found)  # safe as paths and names
    assert {c for c, _ in PREFIX_FACTS.values()} <= set(found)


def test_a_new_language_is_described_by_the_libraries():
    yoruba = L.get("yo")
    assert (yoruba.name, yoruba.script, yoruba.family, yoruba.wiki) == (
        "Yoruba",
        "Latn",
        "Niger-Congo",  # URIEL's Atlantic-Congo, named as the study names it
        "yo",
    )
    simple = L.get("en-simple")
    assert simple.wiki == "simple" and simple.family == "Indo-European"
    assert L.get("fil").family == "Austronesian"  # an ISO 639 code without an edition
    assert describe("fil").prefix is None
    assert L.get("fi").name == "Finnish" and L.get("fi").wiki_mchars == 131  # the study's row


def test_an_unknown_field_is_marked_and_an_analysis_that_needs_it_says_so():
    basque = L.get("eu")  # an isolate: URIEL files it under no family
    assert basque.family is None and basque.script == "Latn"
    assert L.shares_script("eu", "fi")
    with pytest.raises(L.UnknownLanguageError, match="eu: its family is unknown"):
        L.shares_family("eu", "fi")


def test_a_code_no_library_knows_is_refused_in_one_line():
    with pytest.raises(L.UnknownLanguageError, match="neither a Wikipedia edition nor an ISO"):
        L.check_code("xx")


def test_lbb_languages_describes_codes_and_lists_the_editions(capsys):
    from bloodbank.cli import main

    assert main(["languages", "yo", "gsw", "eu"]) == 0
    out = capsys.readouterr().out
    assert "Yoruba" in out and "Alemannic German" in out and "als" in out
    assert "1 of 3 with a family or script no library knows (?)" in out
    assert main(["languages", "--editions"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) > 300 and any(line.startswith("en-simple ") for line in listed)


def test_the_graph_leaves_out_of_its_family_test_a_pair_whose_family_is_unknown():
    import numpy as np

    from bloodbank.graph.analysis import contingency, pairs_of
    from bloodbank.graph.covariates import pair_covariates
    from bloodbank.graph.matrix_io import TransferMatrix

    langs = ["eu", "fi", "hu"]
    f = np.array([[np.nan, 1.0, 2.0], [3.0, np.nan, 4.0], [5.0, 6.0, np.nan]])
    pairs = pairs_of(TransferMatrix(langs, f, "percent", "given"))
    unknown = [p for p in pairs if p.same_family is None]
    assert {(p.source, p.target) for p in unknown} == {
        ("eu", "fi"),
        ("eu", "hu"),
        ("fi", "eu"),
        ("hu", "eu"),
    }
    assert all(p.same_script for p in pairs)  # every script is known: Latin
    assert contingency(pairs, "same_family").sum() == 2  # fi↔hu only, both Uralic
    same = pair_covariates([*langs, "sv"], typology=True)["same_family"]
    assert same.loc["fi", "hu"] == 1 and same.loc["fi", "sv"] == 0
    assert 0 < same.loc["fi", "eu"] < 1  # unknown: the mean of the known cells
