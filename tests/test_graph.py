"""The blood-bank analysis on hand-made matrices whose answers are worked out by hand."""

import json
import math

import networkx as nx
import numpy as np
import pytest
from scipy import stats

from bloodbank.cli import main as cli
from bloodbank.core.config import GraphConfig
from bloodbank.graph import analysis as graph
from bloodbank.graph.matrix_io import (
    MatrixError,
    TransferMatrix,
    detect_kind,
    read_matrix,
    read_mono_mrr,
)
from bloodbank.graph.report import publish

# en and de share script (Latn) and family (Indo-European); ja shares neither.
LANGS = ["en", "de", "ja"]
F = np.array([[np.nan, 20.0, -5.0], [-30.0, np.nan, 12.0], [4.0, 60.0, np.nan]])
MONO = {"en": 0.26, "de": 0.25, "ja": 0.38}


def matrix(f: np.ndarray = F, langs: list[str] = LANGS) -> TransferMatrix:
    return TransferMatrix(list(langs), f, "percent", "test")


def write_csv(path, rows: list[list[str]]):
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_donation_and_recipience_sum_rows_and_columns_without_the_diagonal():
    # D: en 20-5=15, de -30+12=-18, ja 4+60=64; R: en -30+4=-26, de 20+60=80, ja -5+12=7
    assert graph.donation(F).tolist() == [15.0, -18.0, 64.0]
    assert graph.recipience(F).tolist() == [-26.0, 80.0, 7.0]
    with_diagonal = np.where(np.isnan(F), 999.0, F)
    assert graph.donation(with_diagonal).tolist() == [15.0, -18.0, 64.0]


def test_rankings_and_blood_types():
    result = graph.analyse(matrix(), MONO, resamples=99)
    assert result["donor_ranking"] == "ja > en > de"
    assert result["recipient_ranking"] == "de > ja > en"
    types = {c: v["type"] for c, v in result["languages"].items()}
    assert types == {"en": "O", "de": "AB+", "ja": "mutual"}
    assert result["types"] == {
        "O": "en",
        "AB+": "de",
        "mutual": "ja",
        "isolated": "",
        "boundary": "",
    }
    assert result["languages"]["ja"]["donor_rank"] == 1
    assert result["languages"]["en"]["recipient_rank"] == 3
    assert graph.blood_type(-1, -2) == "isolated" and graph.blood_type(0, 3) == "boundary"


def test_bins_follow_the_papers_borders():
    assert [graph.transfer_bin(v) for v in (-10.01, -10, 9.99, 10, 54.99, 55)] == [0, 1, 1, 2, 2, 3]
    result = graph.analyse(matrix(), resamples=99)
    # F: 20 pos, -5 neu, -30 neg, 12 pos, 4 neu, 60 very positive
    assert result["bins"]["all"] == {"negative": 1, "neutral": 2, "positive": 2, "very positive": 1}
    # only en↔de share a script: en→de = 20 (positive), de→en = -30 (negative)
    assert result["bins"]["same_script"] == {
        "negative": 1,
        "neutral": 0,
        "positive": 1,
        "very positive": 0,
    }
    assert result["bins"]["different_family"] == {
        "negative": 0,
        "neutral": 2,
        "positive": 1,
        "very positive": 1,
    }


def test_asymmetry_is_pearson_over_unordered_pairs():
    result = graph.analyse(matrix(), resamples=99)["tests"]["asymmetry"]
    expected = stats.pearsonr([20.0, -5.0, 12.0], [-30.0, 4.0, 60.0])
    assert result["r"] == pytest.approx(expected.statistic)
    assert result["p"] == pytest.approx(expected.pvalue)
    assert result["n"] == 3


def test_monolingual_mrr_correlations_match_scipy():
    tests = graph.analyse(matrix(), MONO, resamples=99)["tests"]
    mrr = [MONO[c] for c in LANGS]
    for key, other in (
        ("mono_mrr_vs_donation", [15, -18, 64]),
        ("mono_mrr_vs_recipience", [-26, 80, 7]),
    ):
        expected = stats.pearsonr(mrr, other)
        assert tests[key]["r"] == pytest.approx(expected.statistic)
        assert tests[key]["p"] == pytest.approx(expected.pvalue)
    # Figure 4, left: F(s→t) against the source's MRR over the six ordered pairs
    sources = [0.26, 0.26, 0.25, 0.25, 0.38, 0.38]
    expected = stats.pearsonr(sources, [20, -5, -30, 12, 4, 60])
    assert tests["source_mono_mrr_vs_f"]["r"] == pytest.approx(expected.statistic)


def test_correlation_is_undefined_rather_than_nan_for_too_few_points():
    assert graph.correlation([1, 2], [3, 4])["r"] is None
    assert graph.correlation([1, 1, 1], [3, 4, 5])["r"] is None


def test_script_effect_uses_pearsons_chi2_and_fishers_test():
    rng = np.random.default_rng(0)
    langs = ["en", "de", "fr", "sv", "fi", "ja", "ko", "zh"]
    f = rng.normal(0, 30, (8, 8))
    m = matrix(f, langs)
    table = graph.contingency(graph.pairs_of(m), "same_script")
    assert table.sum() == 56 and table[0].sum() == 20  # 5 Latin languages: 5·4 ordered pairs
    result = graph.independence_test(table, seed=0, resamples=999)
    used = table[:, table.sum(axis=0) > 0]
    chi2, p, dof, expected = stats.chi2_contingency(used, correction=False)
    assert result["chi2"] == pytest.approx(chi2) and result["p"] == pytest.approx(p)
    assert result["dof"] == dof and result["min_expected"] == pytest.approx(expected.min())
    assert 0 < result["fisher_p"] <= 1
    assert graph.independence_test(table, seed=0, resamples=999) == result  # seeded


def test_independence_test_is_undefined_for_degenerate_tables():
    assert graph.independence_test(np.array([[3, 0, 0, 0], [5, 0, 0, 0]]), 0)["p"] is None
    assert graph.independence_test(np.array([[0, 0, 0, 0], [5, 1, 0, 0]]), 0)["p"] is None


def test_ratio_and_percent_are_told_apart(tmp_path):
    ratio = write_csv(
        tmp_path / "ratio.csv", [["src", "en", "de"], ["en", "1", "1.2"], ["de", "0.7", "1"]]
    )
    m = read_matrix(ratio)
    assert m.kind == "ratio" and "MRR" in m.kind_reason
    assert m.f[0, 1] == pytest.approx(20.0) and m.f[1, 0] == pytest.approx(-30.0)
    percent = write_csv(
        tmp_path / "pct.csv", [["src", "en", "de"], ["en", "", "20"], ["de", "-30", ""]]
    )
    m = read_matrix(percent)
    assert m.kind == "percent" and m.f[1, 0] == -30.0 and math.isnan(m.f[0, 0])
    assert "fraction" in detect_kind(np.array([[0, 0.51], [-0.24, 0]]))[1]
    fraction = read_matrix(
        write_csv(
            tmp_path / "frac.csv", [["", "de", "fi"], ["de", "", "-0.24"], ["fi", "0.51", ""]]
        ),
        "fraction",
    )
    assert fraction.f[1, 0] == pytest.approx(51.0)


def test_rows_may_come_in_any_order_and_transpose_swaps_roles(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["src", "en", "de"], ["de", "-30", ""], ["en", "", "20"]])
    m = read_matrix(path)
    assert m.langs == ["en", "de"] and m.f[0, 1] == 20.0
    assert read_matrix(path, transpose=True).f[0, 1] == -30.0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["s", "en", "de"], ["en", "", "1"], ["ja", "2", ""]], "not square"),
        ([["s", "en", "xx"], ["en", "", "1"], ["xx", "2", ""]], "unknown language code 'xx'"),
        ([["s", "en", "de"], ["en", "", "abc"], ["de", "2", ""]], "en→de .* not a number: 'abc'"),
        ([["s", "en", "de"], ["en", "", ""], ["de", "2", ""]], "en→de .* is empty"),
        ([["s", "en", "de"], ["en", "", "1"], ["de", "2"]], r"row 3 \(de\) has 1 values"),
        ([["s", "en", "de"], ["en", "", "1", "7"], ["de", "2", ""]], "row 'en' has 3 values for 2"),
        ([["s", "en", "en"], ["en", "", "1"], ["en", "2", ""]], "columns list en more than once"),
        ([["s", "en", "de"], ["en", "", "inf"], ["de", "2", ""]], "not finite"),
    ],
)
def test_malformed_matrices_are_rejected_naming_the_cell(tmp_path, rows, message):
    with pytest.raises(MatrixError, match=message):
        read_matrix(write_csv(tmp_path / "bad.csv", rows))


def test_a_ratio_must_be_positive(tmp_path):
    path = write_csv(
        tmp_path / "m.csv", [["s", "en", "de"], ["en", "1", "-0.2"], ["de", "0.9", "1"]]
    )
    with pytest.raises(MatrixError, match="en→de is -0.2"):
        read_matrix(path, "ratio")


def test_mono_mrr_reads_our_scores_json_and_a_csv(tmp_path):
    (tmp_path / "scores.json").write_text(json.dumps({"mono_mrr": MONO, "f": {}}))
    assert read_mono_mrr(tmp_path / "scores.json") == MONO
    write_csv(tmp_path / "mono.csv", [["language", "mrr"], ["en", "0.26"], ["ja", "0.38"]])
    assert read_mono_mrr(tmp_path / "mono.csv") == {"en": 0.26, "ja": 0.38}
    write_csv(tmp_path / "bad.csv", [["language", "mrr"], ["en", "high"]])
    with pytest.raises(MatrixError, match="MRR of en is not a number"):
        read_mono_mrr(tmp_path / "bad.csv")


@pytest.mark.slow  # renders every figure twice
def test_publish_writes_report_figures_exports_and_reproducible_bytes(tmp_path):
    outputs = {}
    for run in ("a", "b"):
        out = tmp_path / run
        publish(
            matrix(),
            MONO,
            out_dir=out / "figs",
            report_path=out / "report.md",
            metrics_path=out / "graph.json",
            graph=GraphConfig(resamples=99),
            seed=0,
        )
        outputs[run] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    names = {str(p) for p in outputs["a"]}
    for fig in (
        "fig1_graph",
        "fig2_heatmap",
        "fig3_donor_recipient",
        "fig4_mono_mrr",
        "fig5_bins",
        "fig7_histogram",
    ):
        assert f"figs/{fig}.png" in names and f"figs/{fig}.svg" in names
    assert outputs["a"] == outputs["b"]  # same inputs, same bytes (figures included)
    report = (tmp_path / "a/report.md").read_text()
    assert "**O** (donates but does not receive (D > 0, R < 0)): en" in report
    assert "](figs/fig2_heatmap.png)" in report and "asymmetry" in report
    g = nx.read_graphml(tmp_path / "a/figs/transfer_graph.graphml")
    assert g.nodes["de"]["type"] == "AB+" and g.edges["ja", "de"]["f"] == 60.0
    data = json.loads((tmp_path / "a/figs/transfer_graph.json").read_text())
    assert len(data["edges"]) == 6 and data["directed"] is True
    assert json.loads((tmp_path / "a/graph.json").read_text())["types"]["O"] == "en"


def test_cli_analyses_a_matrix_and_names_a_bad_cell(tmp_path, capsys):
    path = write_csv(
        tmp_path / "m.csv",
        [["src", *LANGS]]
        + [[s, *("" if i == j else f"{F[i, j]:g}" for j in range(3))] for i, s in enumerate(LANGS)],
    )
    assert (
        cli(["graph", "--matrix", str(path), "--out", str(tmp_path / "out"), "--resamples", "99"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "read as percent" in printed and "type O:   en" in printed
    assert (tmp_path / "out/report.md").is_file()
    assert not (tmp_path / "out/fig4_mono_mrr.png").exists()  # no --mono given
    bad = write_csv(tmp_path / "bad.csv", [["src", "en", "de"], ["en", "", "x"], ["de", "1", ""]])
    assert cli(["graph", "--matrix", str(bad), "--out", str(tmp_path / "o2")]) == 1
    assert "en→de" in capsys.readouterr().err


def test_raw_mrrs_with_the_baseline_on_the_diagonal(tmp_path):
    # the study's Table 5 layout: sources are columns, the diagonal holds MRR(M_t, t)
    path = write_csv(
        tmp_path / "mrr.csv",
        [["src/trgt", "de", "ja"], ["de", "0.28", "0.35"], ["ja", "0.37", "0.40"]],
    )
    m = read_matrix(path, "mrr", transpose=True)
    assert m.f[1, 0] == pytest.approx(100 * (0.35 - 0.28) / 0.28)  # F(ja→de)
    assert m.f[0, 1] == pytest.approx(100 * (0.37 - 0.40) / 0.40)  # F(de→ja)
    assert m.diagonal_mrr == {"de": 0.28, "ja": 0.40}
    blank = write_csv(
        tmp_path / "blank.csv", [["s", "de", "ja"], ["de", "", "0.3"], ["ja", "0.3", "0.4"]]
    )
    with pytest.raises(MatrixError, match="diagonal is empty for de"):
        read_matrix(blank, "mrr")
