"""Downstream pieces on hand-made inputs: set selection, the Z formulas, and the readers."""

import io
import tarfile

import pytest
from httpfixture import Mirror

from bloodbank.core.config import DownstreamConfig
from bloodbank.core.languages import PAPER_STUDIED
from bloodbank.downstream.sets import (
    PAPER_SETS,
    SelectionError,
    clashes,
    pretrain_chars_per_language,
    select,
)
from bloodbank.downstream.task_data import fetch_ud_release, load_language, write_synthetic
from bloodbank.downstream.task_files import TaskDataError, read_conllu, read_iob2
from bloodbank.downstream.zero_shot import hypotheses, monolingual, tables, z_into, z_set

# --- selection ---------------------------------------------------------------------------

STUDIED = ["en", "de", "fr", "fi", "hu", "ja", "hi", "ar"]
D = {"en": 50, "de": 40, "fr": 30, "fi": 20, "hu": 10, "ja": -10, "hi": -20, "ar": -30}
R = {"en": -5, "de": 90, "fr": 10, "fi": 0, "hu": 5, "ja": -40, "hi": 60, "ar": 20}


def cfg(**kw) -> DownstreamConfig:
    return DownstreamConfig.model_validate(
        {"sizes": {"donors": 2, "most_recipient": 2, "least_recipient": 1}, **kw}
    )


def test_recipient_sets_come_from_recipience_and_donors_exclude_them():
    sel = select(STUDIED, D, R, cfg())
    assert sel.sets["most_recipient"] == ["de", "hi"]  # R 90, 60
    assert sel.sets["least_recipient"] == ["ja"]  # R -40
    c = {"de", "hi", "ja"}
    for name in ("most", "least", "random"):
        assert not c & set(sel.sets[name]), name
    # donors by D among en fr fi hu ar; en and fr share family and script (Indo-European,
    # Latin), so fr is skipped for Most Donating
    assert sel.sets["most"] == ["en", "fi"]
    assert any("shares family and script with en" in r for r in sel.reasons["fr"])
    assert sel.sets["least"] == ["ar", "hu"]
    assert sel.configuration("control") == ["de", "hi", "ja"]
    assert sel.configuration("most") == ["en", "fi", "de", "hi", "ja"]


def test_random_set_is_seeded_and_disjoint_when_it_can_be():
    one = {"donors": 1, "most_recipient": 2, "least_recipient": 1}
    a = select(STUDIED, D, R, cfg(select_seed=1, sizes=one))
    assert a.sets == select(STUDIED, D, R, cfg(select_seed=1, sizes=one)).sets
    assert not set(a.sets["random"]) & (set(a.sets["most"]) | set(a.sets["least"]))
    assert any(
        select(STUDIED, D, R, cfg(select_seed=s, sizes=one)).sets["random"] != a.sets["random"]
        for s in range(2, 8)
    )
    crowded = select(STUDIED, D, R, cfg())  # 2 + 2 donors leave 1: Random may overlap
    assert any("drawn from all donor candidates" in r for r in crowded.reasons["(random set)"])


def test_diversity_rules():
    assert clashes("en", "fr", "family_and_script")
    assert not clashes("en", "fi", "family_and_script") and clashes("en", "fi", "script")
    assert clashes("hi", "fr", "family") and not clashes("hi", "fr", "none")
    with pytest.raises(SelectionError, match="diversity rule 'script'"):
        select(STUDIED, D, R, cfg(diversity="script", sizes={"donors": 3}))


def test_the_papers_preset_and_explicit_sets_override():
    d = {c: 0.0 for c in PAPER_STUDIED}
    sel = select(list(PAPER_STUDIED), d, d, cfg(preset="paper"))
    assert sel.sets == PAPER_SETS
    assert sel.configuration("random") == [
        "he",
        "ga",
        "fr",
        "sv",
        "hi",
        "de",
        "hu",
        "ar",
        "el",
        "ta",
    ]
    sel = select(STUDIED, D, R, cfg(explicit={"most": ["ja", "ar"]}))
    assert sel.sets["most"] == ["ja", "ar"] and "given" in sel.reasons["ja"][-1]
    with pytest.raises(SelectionError, match="names xx|not studied"):
        select(STUDIED, D, R, cfg(explicit={"most": ["sv"]}))


def test_the_control_needs_the_largest_share_of_pretraining_text():
    assert pretrain_chars_per_language(cfg(total_chars=300)) == 100  # |C| = 3
    assert pretrain_chars_per_language(cfg(total_chars=10**8, preset="paper")) == 16_666_667


# --- Z formulas and tables ---------------------------------------------------------------

Z1 = {
    "a": {"a": 90.0, "b": 40.0, "c": 10.0},
    "b": {"a": 30.0, "b": 80.0, "c": 20.0},
    "c": {"a": 50.0, "b": 60.0, "c": 70.0},
}


def test_equations_2_and_11_by_hand():
    assert z_set(Z1, ["a", "b", "c"]) == pytest.approx((40 + 10 + 30 + 20 + 50 + 60) / 6)
    assert z_set(Z1, ["a", "b"]) == pytest.approx(35.0)
    assert z_set(Z1, ["a"]) is None  # no ordered pair of distinct languages
    assert z_into(Z1, ["a", "b", "c"], ["a"]) == pytest.approx(40.0)  # (30 + 50) / 2
    assert monolingual(Z1, ["a", "b", "c"]) == pytest.approx(80.0)


def shifted(z: dict, d: float) -> dict:
    return {s: {t: v + d for t, v in row.items()} for s, row in z.items()}


def test_tables_mean_and_std_over_seeds_and_the_hypotheses():
    results = {
        p: {"pos": {"0": shifted(Z1, off), "1": shifted(Z1, off + 2)}}
        for p, off in (("most", 4), ("random", 2), ("least", 0), ("control", 1))
    }
    t = tables(results, rh=["a", "b"], rl=["c"])
    most = t["table3"]["most"]["pos"]
    assert most["zero_shot"]["mean"] == pytest.approx(35.0 + 5)  # z_set(C)=35, +4/+6
    assert most["zero_shot"]["std"] == pytest.approx(1.41421, abs=1e-4)  # stdev of 39, 41
    assert most["monolingual"]["mean"] == pytest.approx(85.0)
    rh = t["table4"]["Rh"]["pos"]["zero_shot"]  # eq. 2 within {a, b}: 35, + mean offset
    assert rh["mean"] == pytest.approx(35.0 + (4 + 2 + 0 + 1) / 4 + 1)
    assert t["table4_zero_shot"]["Rl"].startswith("into")
    assert t["hypotheses"]["eq10"]["pos"]["holds"] is True
    h9 = hypotheses(results, ["a", "b"], ["c"], ["pos"])["eq9"]["pos"]
    # Z(Rh) = 35 + off, Z(Rl) = into c from a, b = 15 + off: Rh > Rl everywhere
    assert h9["holds"] is True and h9["per_configuration"]["least"] == {"Rh": 36.0, "Rl": 16.0}


# --- readers -----------------------------------------------------------------------------

CONLLU = """# sent_id = 1
# text = Ana vede casa.
1\tAna\tAna\tPROPN\t_\t_\t2\tnsubj\t_\t_
2-3\tvedecasa\t_\t_\t_\t_\t_\t_\t_\t_
2\tvede\tvedea\tVERB\t_\t_\t0\troot\t_\t_
3\tcasa\tcasa\tNOUN\t_\t_\t2\tobj\t_\t_
3.1\tx\tx\tX\t_\t_\t_\t_\t_\t_
4\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

1\tDa\tda\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_conllu_reader_keeps_words_and_upos(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text(CONLLU)
    sents = read_conllu(path)
    assert [s.words for s in sents] == [("Ana", "vede", "casa", "."), ("Da",)]
    assert sents[0].tags == ("PROPN", "VERB", "NOUN", "PUNCT")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1\tAna\tAna\tPROPN\t_\t_\t2\tnsubj", "expected 10 tab-separated columns, found 8"),
        ("1\tAna\tAna\tPRPN\t_\t_\t2\tnsubj\t_\t_", "'PRPN' is not a UPOS tag"),
        ("2\tAna\tAna\tPROPN\t_\t_\t2\tnsubj\t_\t_", "word id '2' does not follow 0"),
    ],
)
def test_malformed_conllu_names_file_and_line(tmp_path, line, reason):
    path = tmp_path / "bad.conllu"
    path.write_text("# a comment\n" + line + "\n")
    with pytest.raises(TaskDataError, match=f"bad.conllu:2: {reason}"):
        read_conllu(path)


def test_iob2_reader_strips_panx_prefixes_and_checks_the_scheme(tmp_path):
    path = tmp_path / "train"
    path.write_text("fi:Ana\tB-PER\nfi:Lopez\tI-PER\nfi:asuu\tO\n\nfi:Oulu\tB-LOC\n")
    sents = read_iob2(path, lang_prefix="fi")
    assert sents[0].words == ("Ana", "Lopez", "asuu") and sents[1].tags == ("B-LOC",)
    for body, reason in (
        ("a\tO\nb\tI-PER\n", "3|2: I-PER does not continue"),
        ("a\tB-MISC\n", "1: 'B-MISC' is not one of"),
        ("a O\n", "1: expected token<TAB>tag"),
    ):
        path.write_text(body)
        with pytest.raises(TaskDataError, match=reason):
            read_iob2(path)


def test_synthetic_source_writes_xtremes_layout_and_merges_treebanks(tmp_path):
    write_synthetic(tmp_path, ["qaa"], 0, {"train": 5, "dev": 2, "test": 2})
    assert len(load_language(tmp_path, "pos", "qaa", "train")) == 5
    assert len(load_language(tmp_path, "ner", "qaa", "dev")) == 2
    extra = tmp_path / "ud-treebanks-v2.5/UD_Synthetic-Second/qaa_two-ud-train.conllu"
    extra.parent.mkdir()
    extra.write_text("1\tx\tx\tNOUN\t_\t_\t0\troot\t_\t_\n")
    assert len(load_language(tmp_path, "pos", "qaa", "train")) == 6  # all treebanks merged
    with pytest.raises(TaskDataError, match="no UD train file for qab"):
        load_language(tmp_path, "pos", "qab", "train")


def test_a_ud_release_downloads_from_a_mirror_and_unpacks(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = CONLLU.encode()
        info = tarfile.TarInfo("ud-treebanks-v2.5/UD_Finnish-TDT/fi_tdt-ud-train.conllu")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    with Mirror() as m:
        m.state.files["/ud/ud-treebanks-v2.5.tgz"] = buf.getvalue()
        m.state.drop_after["/ud/ud-treebanks-v2.5.tgz"] = 100  # one dropped connection
        m.state.drops_left = 1
        fetch_ud_release(f"{m.url}/ud/ud-treebanks-v2.5.tgz", tmp_path)
        assert len(m.state.requests) == 2  # the dropped connection was retried
    assert len(load_language(tmp_path, "pos", "fi", "train")) == 2


def test_ner_is_scored_by_seqeval_entity_f1_and_pos_by_token_f1():
    from bloodbank.downstream.token_classification import task_f1

    o, bper, iper, bloc = 0, 1, 2, 5  # indices into NER_TAGS
    gold = [[bper, iper, o, bloc]]
    assert task_f1("ner", [(gold[0], gold[0])]) == 100.0
    # the person is cut short (a wrong entity) and the location is found: P = R = 1/2
    assert task_f1("ner", [(gold[0], [bper, o, o, bloc])]) == pytest.approx(50.0)
    assert task_f1("pos", [([1, 2, 3, 4], [1, 2, 0, 4])]) == pytest.approx(75.0)
