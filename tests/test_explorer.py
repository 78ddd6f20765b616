"""The explorer: its data layer on hand-made matrices, then the real app in headless Chromium."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import slow

from bloodbank import typology
from bloodbank.core.io import write_json
from bloodbank.explorer import data as xd
from bloodbank.graph.matrix_io import TransferMatrix

LANGS = ["en", "de", "fr", "hi", "fi", "ja"]  # Indo-European: en de fr hi; fi Uralic; ja
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = (
    Path(os.environ.get("EXPLORER_SCREENSHOTS", ""))
    if os.environ.get("EXPLORER_SCREENSHOTS")
    else None
)


def write_outputs(root: Path, seed: int = 3, measured: np.ndarray | None = None) -> Path:
    """A repository's outputs as the pipeline leaves them: the completed F matrix, the
    mask of measured cells (all by default) and scores.json."""
    (root / "metrics/estimate").mkdir(parents=True, exist_ok=True)
    f = np.random.default_rng(seed).normal(0, 20, (len(LANGS), len(LANGS)))
    mask = np.ones_like(f, dtype=int) if measured is None else measured.astype(int)
    for name, values, fmt in (("finetune_scores", f, ".2f"), ("measured", mask, "d")):
        rows = ["source," + ",".join(LANGS)]
        rows += [s + "," + ",".join(f"{v:{fmt}}" for v in values[i]) for i, s in enumerate(LANGS)]
        (root / f"metrics/estimate/{name}.csv").write_text("\n".join(rows) + "\n")
    mono = {c: round(0.2 + 0.03 * i, 3) for i, c in enumerate(LANGS)}
    (root / "metrics/scores.json").write_text(json.dumps({"mono_mrr": mono}))
    return root


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return xd.load_outputs(write_outputs(tmp_path_factory.mktemp("outputs")))


def test_uriel_features_come_from_lang2vec_and_synthetic_ones_from_the_registry():
    assert typology.uriel_code("fi") == "fin"
    assert typology.categorical("ja") == {
        "word_order": "SOV",
        "adjective_order": "AdjN",
        "adposition": "postpositions",
        "inflection": "suffixing",
    }
    assert typology.categorical("fr")["adjective_order"] == "NAdj"
    assert typology.categorical("pms")["word_order"] == typology.UNKNOWN  # not in URIEL
    assert typology.categorical("qaa") == {
        "word_order": "SVO",
        "adjective_order": "AdjN",
        "adposition": "prepositions",
        "inflection": "suffixing",
    }
    assert typology.syntax_flags("en")["S_SVO"] == "yes"


def test_filters_keep_and_hide_by_family_script_and_feature(bank):
    assert xd.select(bank) == LANGS
    assert xd.select(bank, keep={"family": ["Indo-European"]}) == ["en", "de", "fr", "hi"]
    assert xd.select(bank, keep={"script": ["Deva", "Jpan"]}) == ["hi", "ja"]
    assert xd.select(bank, hide={"word_order": ["SOV"]}) == ["en", "de", "fr", "fi"]
    assert xd.select(bank, keep={"word_order": ["SOV"]}) == ["hi", "ja"]
    assert xd.select(bank, langs=["ja", "en"]) == ["en", "ja"]
    facets = xd.facets(bank)
    assert facets["family"] == ["Indo-European", "Japonic", "Uralic"]
    assert "SVO/SOV" in facets["word_order"]  # German


def test_a_biscriptal_language_is_filtered_under_each_of_its_scripts():
    langs = ["qas", "qaa", "qac"]  # qas writes Latin and Cyrillic
    f = np.arange(9.0).reshape(3, 3)
    bank = xd.Bank(
        TransferMatrix(langs, f, "percent", ""), {}, {}, typology.features(langs), "test"
    )
    assert xd.facets(bank)["script"] == ["Cyrl", "Latn"]
    assert xd.select(bank, keep={"script": ["Latn"]}) == ["qas", "qaa"]
    assert xd.select(bank, keep={"script": ["Cyrl"]}) == ["qas", "qac"]
    assert xd.select(bank, hide={"script": ["Cyrl"]}) == ["qaa"]


def test_collapse_averages_f_between_groups_without_self_pairs():
    f = np.array([[0.0, 10, 20, 30], [40, 0.0, 50, 60], [70, 80, 0.0, 90], [100, 110, 120, 0.0]])
    langs = ["en", "de", "hi", "ja"]  # families: IE, IE, IE, Japonic
    bank = xd.Bank(
        TransferMatrix(langs, f, "percent", ""), {}, {}, typology.features(langs), "test"
    )
    groups, values = xd.collapse(bank, langs, "family")
    assert groups == ["Indo-European", "Japonic"]
    assert values[0, 0] == pytest.approx(np.mean([10, 20, 40, 50, 70, 80]))
    assert values[0, 1] == pytest.approx(np.mean([30, 60, 90]))
    assert values[1, 0] == pytest.approx(np.mean([100, 110, 120]))
    assert np.isnan(values[1, 1])  # one language: no pair within the group


def test_edges_threshold_card_order_and_csv(bank):
    m = xd.submatrix(bank, LANGS)
    assert len(xd.edges(m, 0)) == 30
    strong = xd.edges(m, 20)
    assert strong and all(abs(v) >= 20 for _, _, v in strong)
    assert [abs(v) for *_, v in strong] == sorted((abs(v) for *_, v in strong), reverse=True)
    card = xd.card(bank, "fi", k=2)
    col = bank.matrix.f[:, LANGS.index("fi")]
    best = max((v, s) for s, v in zip(LANGS, col, strict=True) if s != "fi")
    assert card["best_donors"][0] == (best[1], pytest.approx(best[0]))
    assert card["family"] == "Uralic" and card["mono_mrr"] == bank.mono["fi"]
    by_d = xd.order(m, "donation")
    d, _ = xd.margins(m)
    assert [d[LANGS.index(c)] for c in by_d] == sorted(d, reverse=True)
    assert (
        xd.matrix_csv(["en", "de"], np.array([[np.nan, 1.5], [2, np.nan]]))
        == "source,en,de\nen,,1.5000\nde,2.0000,\n"
    )


def test_missing_outputs_and_bad_matrices_raise_explorer_errors(tmp_path):
    with pytest.raises(xd.ExplorerError, match="no such folder"):
        xd.load_outputs(tmp_path / "nowhere")
    with pytest.raises(xd.ExplorerError, match="run `dvc repro`"):
        xd.load_outputs(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("source,en,de\nen,,x\nde,1,\n")
    with pytest.raises(xd.ExplorerError, match="en→de"):
        xd.load_csv(bad)


def test_the_planted_truth_is_compared_over_the_shown_languages(tmp_path):
    from scipy.stats import rankdata

    from bloodbank.explorer import figures as xf

    root = write_outputs(tmp_path)
    assert xd.load_outputs(root).truth is None  # no truth stage output: a real world
    f = xd.load_outputs(root).matrix.f
    # a truth that F orders exactly: ρ = 1
    truth = rankdata(np.where(np.eye(len(LANGS), dtype=bool), 0, f)).reshape(f.shape)
    rows = ["source," + ",".join(LANGS)]
    rows += [s + "," + ",".join(f"{v:.1f}" for v in truth[i]) for i, s in enumerate(LANGS)]
    (root / "metrics/truth.csv").write_text("\n".join(rows) + "\n")
    bank = xd.load_outputs(root)
    table, comparison = xd.truth_comparison(bank, LANGS)
    assert len(table) == 30 and table["truth"].is_monotonic_decreasing
    assert comparison["mono"]["spearman"] == comparison["ceiling"] == 1.0
    shown = ["fi", "en", "ja"]
    sub, _ = xd.truth_comparison(bank, shown)
    assert sorted(zip(sub["source"], sub["target"], strict=True)) == sorted(
        (s, t) for s in shown for t in shown if s != t
    )
    assert xd.truth_comparison(bank, ["fi"]) is None
    fig = xf.truth_view(table, "mono", "F")
    assert len(fig.data[0].x) == 30 and "fi→en" in fig.data[0].text
    (root / "metrics/truth.csv").write_text("source,en\nen,\n")  # real languages: empty
    assert xd.load_outputs(root).truth is None


# --- the real app, in headless Chromium --------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``lbb explore`` in a subprocess, on a free local port."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bloodbank.cli", "explore", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.close()
        raise AssertionError(f"the explorer did not start:\n{self.proc.stdout.read()}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def shoot(page, tmp_path: Path, name: str) -> None:
    for folder in filter(None, (tmp_path, SHOTS)):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def arrows(page) -> int:
    """Edges drawn in the graph: each is a line with a point at either end (an arrow
    marker at the target); the node trace adds one point per language."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    points = chart.locator("g.trace.scatter path.point").count()
    nodes = chart.locator("g.textpoint").count()
    return (points - nodes) // 2


def table_rows(page) -> int:
    return page.locator('[data-testid="stTable"]').first.locator("tbody tr").count()


def wait_until(check, timeout: float = 60.0) -> None:
    """Poll ``check`` until it holds: Plotly draws after Streamlit's text appears."""
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise AssertionError("the page did not reach the expected state")
        time.sleep(0.25)


def settle(page, text: str) -> None:
    """Wait for Streamlit's rerun to show ``text`` and finish drawing."""
    page.get_by_text(text).first.wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    page.wait_for_timeout(800)


@pytest.mark.slow
@pytest.mark.e2e
def test_the_explorer_filters_and_thresholds_in_a_real_browser(tmp_path, browser):
    app = App("--outputs", str(write_outputs(tmp_path / "repo")))
    try:
        page = open_page(browser, app.url)
        settle(page, "Showing 6 of 6 languages")
        wait_until(lambda: arrows(page) == 30 and table_rows(page) == 30)
        shoot(page, tmp_path, "1-opened")

        page.get_by_role("combobox", name="Family").click()
        page.keyboard.type("Indo-European")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        settle(page, "Showing 4 of 6 languages")
        wait_until(lambda: arrows(page) == 12 and table_rows(page) == 12)  # 4 · 3 pairs
        shoot(page, tmp_path, "2-family-filter")

        slider = page.locator('input[type="range"]').first
        slider.focus()
        for _ in range(30):
            page.keyboard.press("ArrowRight")  # 30 steps of 0.5: |F| ≥ 15
        settle(page, "|F| ≥ 15%")
        wait_until(lambda: 0 < arrows(page) < 12 and table_rows(page) == arrows(page))
        shoot(page, tmp_path, "3-threshold")
        assert "Traceback" not in page.inner_text("body")
    finally:
        app.close()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing-outputs", "no such folder"),
        slow("malformed-matrix", "en→de"),
        slow("huge-cell", "beyond any plausible transfer score"),
        slow("directory", "not a file"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_the_server_starts(tmp_path, case, expected):
    bad = tmp_path / "bad.csv"
    args = {
        "missing-outputs": ["--outputs", str(tmp_path / "nowhere")],
        "malformed-matrix": ["--matrix", str(bad)],
        "huge-cell": ["--matrix", str(bad)],
        "directory": ["--matrix", str(tmp_path)],
    }[case]
    cell = {"malformed-matrix": "oops", "huge-cell": "1e308"}.get(case, "1")
    bad.write_text(f"source,en,de\nen,,{cell}\nde,1,\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bloodbank.cli", "explore", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.e2e
@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_stopping_the_explorer_by_its_pid_stops_the_server(tmp_path):
    app = App("--outputs", str(write_outputs(tmp_path / "repo")))
    app.proc.send_signal(signal.SIGTERM)  # the PID `lbb explore` was started as
    try:
        app.proc.wait(timeout=30)
    finally:
        app.close()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", app.port)) != 0, "the server still listens"


def test_estimated_edges_are_dotted_and_measured_ones_solid(tmp_path):
    from bloodbank.explorer import figures as xf

    measured = np.ones((len(LANGS), len(LANGS)), dtype=bool)
    measured[0, 1] = measured[2, 3] = False  # en→de and fr→hi were estimated
    bank = xd.load_outputs(write_outputs(tmp_path, measured=measured))
    estimated = bank.matrix.estimated()
    assert estimated.sum() == 2 and estimated[0, 1] and estimated[2, 3]
    fig = xf.graph_view(bank.langs, bank.matrix.f, 0.0, ["grey"] * 6, LANGS, None, estimated)
    dashes = [t.line.dash for t in fig.data if t.mode == "lines+markers"]
    dotted = sum(
        len(t.x) // 3 for t in fig.data if t.mode == "lines+markers" and t.line.dash == "dot"
    )
    assert "dot" in dashes and "solid" in dashes and dotted == 2
    whole = xd.load_outputs(write_outputs(tmp_path / "all"))
    assert whole.matrix.measured is None  # measured throughout: nothing marked


@pytest.mark.slow
def test_the_truth_tab_states_the_lexical_slope(tmp_path, monkeypatch):
    """The truth tab renders (Streamlit's AppTest) with the slope of the shown languages;
    the slope itself is the graph report's (``graph.planted.lexical_slope``)."""
    from streamlit.testing.v1 import AppTest

    from bloodbank.explorer import app
    from bloodbank.graph import planted

    root = write_outputs(tmp_path)
    f = xd.load_outputs(root).matrix.f
    truth = np.where(np.eye(len(LANGS), dtype=bool), 100.0, np.clip(f, 0, None) * 2)
    rows = ["source," + ",".join(LANGS)]
    rows += [s + "," + ",".join(f"{v:.2f}" for v in truth[i]) for i, s in enumerate(LANGS)]
    (root / "metrics/truth.csv").write_text("\n".join(rows) + "\n")
    bank = xd.load_outputs(root)
    _, comparison = xd.truth_comparison(bank, LANGS)
    frame = pd.DataFrame(f, index=LANGS, columns=LANGS)
    assert comparison["lexical_slope"] == planted.lexical_slope(bank.truth, frame)
    assert comparison["lexical_slope"]["per_10_points"] > 0

    monkeypatch.setattr(sys, "argv", ["explorer", "--outputs", str(root)])
    page = AppTest.from_file(app.__file__, default_timeout=60).run()
    assert not page.exception
    assert [t.label for t in page.tabs][-1] == "Planted truth"
    text = " ".join(m.value for m in page.markdown)
    slope = comparison["lexical_slope"]["per_10_points"]
    assert "Lexical slope (F (study's baseline)" in text and f"{slope:+.2f}" in text


def test_the_recovery_bar_is_the_one_the_graph_stage_recorded(tmp_path):
    """As in the graph report, whatever params.yaml says today: no compute-matched bar
    where the pairs adapted briefly."""
    for recorded in (None, 10.0):
        write_json(tmp_path / "graph.json", {"planted_truth": {"recovery_slack": recorded}})
        assert xd.pipeline_slack(tmp_path / "graph.json") == recorded
    write_json(tmp_path / "plain.json", {"types": {}})  # a world without a truth
    assert xd.pipeline_slack(tmp_path / "plain.json") == 10.0
    assert xd.pipeline_slack(tmp_path / "missing.json") == 10.0


def test_the_explore_command_serves_the_explorer_app():
    """`lbb explore` hands Streamlit the app's file: it must exist wherever the CLI lives."""
    import argparse

    from bloodbank.cli.explore import explorer_command

    args = argparse.Namespace(
        host="127.0.0.1",
        port=8501,
        baseline="mono",
        kind="auto",
        matrix=None,
        outputs=Path("."),
    )
    cmd = explorer_command(args)
    app = Path(cmd[cmd.index("run") + 1])
    assert app.is_file() and app.name == "app.py" and app.parent.name == "explorer"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # case 4 of the audit: a list, or strings, where the MRRs belong
        (("metrics/scores.json", '{"mono_mrr": [0.2, 0.3]}'), r"scores\.json: mono_mrr must map"),
        (("metrics/scores.json", '{"mono_mrr": {"fi": "0.2"}}'), r"scores\.json: mono_mrr must"),
        # case 6: errors that did not name their file
        (("metrics/scores.json", '{"mono_mrr": {"fi": 0.2,'), r"scores\.json: Expecting"),
        (("metrics/estimate/measured.csv", "source,en\nen,1\n"), r"measured\.csv: .*not in index"),
    ],
)
def test_bad_pipeline_outputs_are_named_in_one_line(tmp_path, damage, expected):
    root = write_outputs(tmp_path / "repo")
    name, text = damage
    (root / name).write_text(text)
    with pytest.raises(xd.ExplorerError, match=expected) as err:
        xd.load_outputs(root)
    assert "\n" not in str(err.value)
