"""End to end, the bilingual pretraining graph: mono and pair stages, scores, seeds, resume."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import run
from transformers import AutoModelForMaskedLM, AutoTokenizer

pytestmark = pytest.mark.e2e

LANGS = ["qaa", "qab", "qae"]
CPU = torch.device("cpu")


def read_matrix(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")[1:]
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == header
    return header, np.array([[float(v) for v in r[1:]] for r in rows])


def test_score_matrix_follows_equation_4(built):
    (repo, _), _ = built
    mono = {t: json.loads((repo / f"metrics/mono/{t}.json").read_text())["mrr"] for t in LANGS}
    results = {s: json.loads((repo / f"metrics/pairs/{s}.json").read_text()) for s in LANGS}
    pair = {(s, t): results[s][t]["mrr"] for s in LANGS for t in LANGS}
    langs, f = read_matrix(repo / "metrics/finetune_scores.csv")
    _, matched = read_matrix(repo / "metrics/finetune_scores_matched.csv")
    assert langs == LANGS
    for i, s in enumerate(LANGS):
        for j, t in enumerate(LANGS):
            assert f[i, j] == pytest.approx(100 * (pair[s, t] - mono[t]) / mono[t], abs=0.006)
            assert matched[i, j] == pytest.approx(
                100 * (pair[s, t] - pair[t, t]) / pair[t, t], abs=0.006
            )
    summary = json.loads((repo / "metrics/scores.json").read_text())
    assert summary["mono_mrr"] == mono
    shown = run(["dvc", "metrics", "show"], repo).stdout
    assert "metrics/scores.json" in shown and "metrics/mono/qaa.json" in shown


def test_graph_stage_writes_metrics_report_figures_and_plots(built, tmp_path):
    (repo, _), _ = built
    analysis = json.loads((repo / "metrics/graph.json").read_text())
    assert set(analysis["languages"]) == set(LANGS)
    assert analysis["input"]["n_pairs"] == 6 and analysis["donor_ranking"].count(">") == 2
    report = (repo / "reports/graph.md").read_text()
    for fig in ("fig1_graph", "fig2_heatmap", "fig3_donor_recipient", "fig5_bins"):
        assert f"](graph/{fig}.png)" in report and (repo / f"reports/graph/{fig}.svg").is_file()
    assert "metrics/graph.json" in run(["dvc", "metrics", "show"], repo).stdout
    run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], repo)  # not into the repo
    html = (tmp_path / "plots/index.html").read_text()
    assert "fig2_heatmap.png" in html and "Donation against recipience" in html


def test_downstream_sets_pretraining_and_tables(built):
    (repo, _), _ = built
    from bloodbank.downstream.results import results_from_mlflow
    from bloodbank.downstream.zero_shot import tables

    sets = json.loads((repo / "metrics/sets.json").read_text())
    c = sets["downstream_languages"]
    assert len(c) == 2 and len(set(sets["configurations"]["most"])) == 3
    assert sets["configurations"]["control"] == c
    for config in ("most", "least", "random", "control"):
        metrics = json.loads((repo / f"metrics/pretrain/{config}.json").read_text())
        shares = metrics["characters"]
        assert set(shares) == set(sets["configurations"][config])
        assert all(
            12000 // len(shares) <= n < 12000 // len(shares) + 400 for n in shares.values()
        )  # equal shares, whole sentences
        AutoModelForMaskedLM.from_pretrained(repo / "models/pretrain" / config)
    downstream = json.loads((repo / "metrics/downstream.json").read_text())
    assert set(downstream["table3"]) == {"most", "least", "random", "control"}
    assert downstream["table3"]["most"]["pos"]["zero_shot"]["n"] == 2  # two seeds
    assert "Table 3" in (repo / "reports/tables.md").read_text()
    assert "metrics/downstream.json" in run(["dvc", "metrics", "show"], repo).stdout
    # the same tables, recomputed from the finetune runs in MLflow
    results = results_from_mlflow(f"sqlite:///{repo}/mlflow.db", "test", 0)
    again = tables(results, sets["sets"]["most_recipient"], sets["sets"]["least_recipient"])
    assert json.loads(json.dumps(again)) == downstream


def test_checkpoints_load_with_auto_classes_and_reproduce_their_mrr(built):
    (repo, _), _ = built
    from bloodbank.core.config import load_params
    from bloodbank.data.token_ids import load_split
    from bloodbank.data.tokenizer import load_tokenizer
    from bloodbank.mlm.runs import Recipe, mrr_on

    mono = json.loads((repo / "metrics/mono/qaa.json").read_text())
    pair = json.loads((repo / "metrics/pairs/qab.json").read_text())["qaa"]
    for sub, metrics in (("mono/qaa", mono), ("pairs/qab/qaa", pair)):
        path = repo / "models" / sub
        assert (path / "model.safetensors").is_file()
        model = AutoModelForMaskedLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        assert tok.mask_token_id == 4 and model.config.vocab_size == len(tok)
        cwd = os.getcwd()
        os.chdir(repo)
        try:
            params = load_params()
            result = mrr_on(
                model,
                load_split(Path("data/tokens/qaa"), "test"),
                "qaa",
                Recipe(params.train, params.eval, params.seed),
                load_tokenizer(Path("models/tokenizer")),
            )
        finally:
            os.chdir(cwd)
        assert result.mrr == metrics["mrr"] and result.masked_tokens == metrics["masked_tokens"]


def test_every_sentence_of_the_test_split_is_scored_once(built):
    (repo, _), _ = built
    metrics = json.loads((repo / "metrics/mono/qab.json").read_text())
    n_test = len((repo / "data/samples/test/qab.txt").read_text().splitlines())
    assert metrics["sentences"] == n_test
    assert metrics["train"]["threads"] == 2


@pytest.mark.slow
def test_a_forced_rerun_gives_identical_weights_and_invalidates_nothing(built_copy):
    repo = built_copy
    weights = (repo / "models/mono/qab/model.safetensors").read_bytes()
    before = (repo / "metrics/mono/qab.json").read_bytes()
    log = run(["dvc", "repro", "-f", "-s", "mono@qab"], repo).stdout
    assert "Running stage 'mono@qab'" in log
    assert (repo / "models/mono/qab/model.safetensors").read_bytes() == weights
    assert (repo / "metrics/mono/qab.json").read_bytes() == before  # results, no timings
    assert (repo / "logs/timings/mono/qab.json").is_file()
    # identical results: scores and everything after it have nothing to do
    assert "up to date" in run(["dvc", "status"], repo).stdout
    again = run(["dvc", "repro"], repo).stdout
    assert "Running stage" not in again


@pytest.mark.slow
def test_exp_run_with_another_seed_changes_the_metrics_only_downstream(built_copy):
    repo = built_copy
    before = json.loads((repo / "metrics/mono/qaa.json").read_text())["mrr"]
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    log = run(["dvc", "exp", "run", "-S", "seed=2", "--all-pipelines"], repo).stdout
    assert "Running stage 'mono@qaa'" in log and "Running stage 'scores'" in log
    assert "Running stage 'graph'" in log  # the downstream pipeline's stages, by file:
    assert "Running stage 'downstream/dvc.yaml:tables'" in log
    assert not any(f"Running stage '{s}" in log for s in ("dump@", "sample@", "tokenizer'"))
    after = json.loads((repo / "metrics/mono/qaa.json").read_text())["mrr"]
    assert after != before
    diff = run(["dvc", "metrics", "diff"], repo).stdout
    assert "metrics/mono/qaa.json" in diff and "mrr" in diff
    assert "metrics/downstream.json" in diff and "table3" in diff


def edit_params(repo: Path, params: dict) -> None:
    """Write params.yaml, then the settings files (a `dvc repro -s` runs no upstream
    stage, and a fanned-out stage refuses settings that no longer follow params.yaml)."""
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run(["dvc", "repro", "--single-item", "settings"], repo)


def start_repro(repo: Path, stage: str) -> subprocess.Popen:
    """`dvc repro -s STAGE` in its own process group: killing the group by its id (dvc's
    PID) takes the stage too."""
    return subprocess.Popen(
        ["dvc", "repro", "-s", stage],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_a_killed_training_resumes_to_the_same_weights(built_copy):
    repo = built_copy
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(epochs=8)  # about 150 steps, never run before
    params["runtime"].update(checkpoint_every=10)
    edit_params(repo, params)
    ckpt = repo / "models/.resume/mono-qab/checkpoint.pt"
    proc = start_repro(repo, "mono@qab")
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert ckpt.exists(), "no resumable checkpoint appeared"
    os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage die midway, as on a lost node
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not (repo / "models/mono/qab/model.safetensors").exists()

    run(["dvc", "repro", "-s", "mono@qab"], repo)  # the rerun resumes
    timing = json.loads((repo / "logs/timings/mono/qab.json").read_text())
    assert timing["resumed_from_step"] >= 10 and not ckpt.exists()
    resumed = (repo / "models/mono/qab/model.safetensors").read_bytes()
    metrics = (repo / "metrics/mono/qab.json").read_bytes()

    run(["dvc", "repro", "-f", "-s", "mono@qab"], repo)  # the same run, uninterrupted
    fresh = json.loads((repo / "logs/timings/mono/qab.json").read_text())
    assert fresh["resumed_from_step"] == 0
    assert (repo / "models/mono/qab/model.safetensors").read_bytes() == resumed
    assert (repo / "metrics/mono/qab.json").read_bytes() == metrics


@pytest.mark.slow
def test_a_pair_stage_killed_between_targets_keeps_the_finished_ones(built_copy):
    """A source's pair stage trains its targets in turn; killed after the first, the
    rerun trains only the others, and every byte is what an uninterrupted run writes."""
    repo = built_copy
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["pair_recipe"].update(epochs=4)  # a few seconds per target, never run before
    edit_params(repo, params)
    shutil.rmtree(repo / "logs/timings/pair", ignore_errors=True)
    first = repo / "logs/timings/pair/qab-qaa.json"  # written once qab->qaa is in place
    proc = start_repro(repo, "pair@qab")
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert first.exists() and proc.poll() is None, "the stage ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (repo / "models/pairs/qab").exists()  # nothing finished-looking is left

    run(["dvc", "repro", "-s", "pair@qab"], repo)
    steps = json.loads((repo / "metrics/pairs/qab.json").read_text())["qaa"]["train"]["steps"]
    assert json.loads(first.read_text())["resumed_from_step"] == steps  # not trained again
    later = json.loads((repo / "logs/timings/pair/qab-qae.json").read_text())
    assert later["resumed_from_step"] == 0
    assert not list((repo / "models/.resume").glob("pair-qab-*"))
    resumed = {str(p): p.read_bytes() for p in (repo / "models/pairs/qab").rglob("*.safetensors")}
    metrics = (repo / "metrics/pairs/qab.json").read_bytes()

    run(["dvc", "repro", "-f", "-s", "pair@qab"], repo)  # the same stage, uninterrupted
    assert (repo / "metrics/pairs/qab.json").read_bytes() == metrics
    fresh = {str(p): p.read_bytes() for p in (repo / "models/pairs/qab").rglob("*.safetensors")}
    assert fresh == resumed and len(fresh) == 3


def test_zero_shot_scores_each_mono_model_on_every_language(built):
    """Each cell is s's mono checkpoint, loaded as users load it, scored on t's first
    sentences under the masks t's evaluation draws: a stage that scored the wrong model
    or the wrong language fails this. (Whether t's own model fits t best depends on how
    long the tiny world trains, not on the stage.)"""
    (repo, _), _ = built
    from bloodbank.core.config import load_params
    from bloodbank.data.token_ids import load_split
    from bloodbank.data.tokenizer import load_tokenizer
    from bloodbank.graph.proxies import read_overlap, read_zeroshot
    from bloodbank.mlm.evaluation import evaluate
    from bloodbank.mlm.runs import Recipe, first_sentences, masked_test

    zs = read_zeroshot(LANGS, lambda s: repo / f"metrics/zeroshot/{s}.json")
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        params = load_params()
        recipe = Recipe(params.train, params.eval, params.seed)
        tok = load_tokenizer(Path("models/tokenizer"))
        for s in LANGS:
            model = AutoModelForMaskedLM.from_pretrained(Path("models/mono") / s)
            for t in LANGS:
                test = first_sentences(
                    load_split(Path("data/tokens") / t, "test"), params.proxies.sentences
                )
                batches = masked_test(test, t, recipe, tok, passes=params.proxies.passes)
                found = evaluate(model, batches, len(test), device=CPU, bootstrap=0, seed=0)
                assert zs.loc[s, t] == found.mrr, (s, t)
    finally:
        os.chdir(cwd)
    assert len({round(v, 12) for v in zs.to_numpy().ravel()}) == len(LANGS) ** 2
    overlap = read_overlap(LANGS, repo / "metrics/overlap.csv")
    assert np.allclose(np.diag(overlap), 1.0) and np.allclose(overlap, overlap.T)
    explained = json.loads((repo / "metrics/estimate.json").read_text())["explained"]
    assert {"zeroshot_fit", "lexical_overlap"} <= set(explained)
