"""End to end, the bilingual pretraining graph: mono and pair stages, scores, seeds, resume."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run
from transformers import AutoModelForMaskedLM, AutoTokenizer

pytestmark = pytest.mark.e2e

LANGS = ["qaa", "qab", "qae"]
TIMING = {"seconds", "tokens_per_second"}


def scientific(metrics: dict) -> dict:
    """Metrics without wall-clock fields, which differ between identical runs."""
    out = dict(metrics)
    out["train"] = {k: v for k, v in metrics["train"].items() if k not in TIMING}
    return out


def read_matrix(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")[1:]
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == header
    return header, np.array([[float(v) for v in r[1:]] for r in rows])


def test_score_matrix_follows_equation_4(built):
    (repo, _), _ = built
    mono = {t: json.loads((repo / f"metrics/mono/{t}.json").read_text())["mrr"] for t in LANGS}
    pair = {(s, t): json.loads((repo / f"metrics/pairs/{s}-{t}.json").read_text())["mrr"]
            for s in LANGS for t in LANGS}
    langs, f = read_matrix(repo / "metrics/finetune_scores.csv")
    _, matched = read_matrix(repo / "metrics/finetune_scores_matched.csv")
    assert langs == LANGS
    for i, s in enumerate(LANGS):
        for j, t in enumerate(LANGS):
            assert f[i, j] == pytest.approx(100 * (pair[s, t] - mono[t]) / mono[t], abs=0.006)
            assert matched[i, j] == pytest.approx(
                100 * (pair[s, t] - pair[t, t]) / pair[t, t], abs=0.006)
    summary = json.loads((repo / "metrics/scores.json").read_text())
    assert summary["mono_mrr"] == mono
    shown = run(["dvc", "metrics", "show"], repo).stdout
    assert "metrics/scores.json" in shown and "metrics/mono/qaa.json" in shown


def test_graph_stage_writes_metrics_report_figures_and_plots(built):
    (repo, _), _ = built
    analysis = json.loads((repo / "metrics/graph.json").read_text())
    assert set(analysis["languages"]) == set(LANGS)
    assert analysis["input"]["n_pairs"] == 6 and analysis["donor_ranking"].count(">") == 2
    report = (repo / "reports/graph.md").read_text()
    for fig in ("fig1_graph", "fig2_heatmap", "fig3_donor_recipient", "fig5_bins"):
        assert f"](graph/{fig}.png)" in report and (repo / f"reports/graph/{fig}.svg").is_file()
    assert "metrics/graph.json" in run(["dvc", "metrics", "show"], repo).stdout
    run(["dvc", "plots", "show", "-o", "plots_html"], repo)
    html = (repo / "plots_html/index.html").read_text()
    assert "fig2_heatmap.png" in html and "Donation against recipience" in html


def test_downstream_sets_pretraining_and_tables(built):
    (repo, _), _ = built
    from bloodbank.downstream import results_from_mlflow
    from bloodbank.zeroshot import tables

    sets = json.loads((repo / "metrics/sets.json").read_text())
    c = sets["downstream_languages"]
    assert len(c) == 2 and len(set(sets["configurations"]["most"])) == 3
    assert sets["configurations"]["control"] == c
    for config in ("most", "least", "random", "control"):
        metrics = json.loads((repo / f"metrics/pretrain/{config}.json").read_text())
        shares = metrics["characters"]
        assert set(shares) == set(sets["configurations"][config])
        assert all(12000 // len(shares) <= n < 12000 // len(shares) + 400
                   for n in shares.values())  # equal shares, whole sentences
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
    from bloodbank.config import load_params
    from bloodbank.pretrain import score
    from bloodbank.tokenizer import load_tokenizer

    for sub in ("mono/qaa", "pairs/qab-qaa"):
        path = repo / "models" / sub
        assert (path / "model.safetensors").is_file()
        model = AutoModelForMaskedLM.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        assert tok.mask_token_id == 4 and model.config.vocab_size == len(tok)
        cwd = os.getcwd()
        os.chdir(repo)
        try:
            result = score(model, "qaa", load_params(), load_tokenizer(Path("models/tokenizer")))
        finally:
            os.chdir(cwd)
        metrics = json.loads((repo / "metrics" / f"{sub}.json").read_text())
        assert result.mrr == metrics["mrr"] and result.masked_tokens == metrics["masked_tokens"]


def test_every_sentence_of_the_test_split_is_scored_once(built):
    (repo, _), _ = built
    metrics = json.loads((repo / "metrics/mono/qab.json").read_text())
    n_test = len((repo / "data/samples/test/qab.txt").read_text().splitlines())
    assert metrics["sentences"] == n_test
    assert metrics["train"]["threads"] == 2


def test_rerun_with_the_same_seed_gives_identical_weights_and_metrics(built):
    (repo, _), _ = built
    weights = (repo / "models/mono/qab/model.safetensors").read_bytes()
    before = scientific(json.loads((repo / "metrics/mono/qab.json").read_text()))
    run(["dvc", "repro", "-f", "-s", "mono@qab"], repo)
    assert (repo / "models/mono/qab/model.safetensors").read_bytes() == weights
    assert scientific(json.loads((repo / "metrics/mono/qab.json").read_text())) == before
    run(["dvc", "repro"], repo)  # the new timing fields make `scores` stale: refresh it


def test_exp_run_with_another_seed_changes_the_metrics_only_downstream(built):
    (repo, _), _ = built
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    before = json.loads((repo / "metrics/mono/qaa.json").read_text())["mrr"]
    log = run(["dvc", "exp", "run", "-S", "seed=2"], repo).stdout
    assert "Running stage 'mono@qaa'" in log and "Running stage 'scores'" in log
    assert "Running stage 'graph'" in log and "Running stage 'tables'" in log
    assert not any(f"Running stage '{s}" in log for s in ("dump@", "sample@", "tokenizer'"))
    after = json.loads((repo / "metrics/mono/qaa.json").read_text())["mrr"]
    assert after != before
    diff = run(["dvc", "metrics", "diff"], repo).stdout
    assert "metrics/mono/qaa.json" in diff and "mrr" in diff
    assert "metrics/downstream.json" in diff and "table3" in diff
    restore(repo)


def test_a_killed_training_resumes_to_the_same_weights(tmp_path, built):
    (repo, _), _ = built
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "before the resume test", "--allow-empty"], repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(checkpoint_every=10, epochs=8)  # about 150 steps, never run before
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    ckpt = repo / "models/.resume/mono-qab/checkpoint.pt"
    proc = subprocess.Popen(["dvc", "repro", "-s", "mono@qab"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert ckpt.exists(), "no resumable checkpoint appeared"
    stage = subprocess.run(["pgrep", "-f", "stages/mono.py qab"], capture_output=True,
                           text=True).stdout.split()
    for pid in stage:
        os.kill(int(pid), signal.SIGKILL)  # the stage dies midway, as on an OOM kill
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not (repo / "models/mono/qab/model.safetensors").exists()

    run(["dvc", "repro", "-s", "mono@qab"], repo)  # the rerun resumes
    metrics = json.loads((repo / "metrics/mono/qab.json").read_text())
    assert metrics["train"]["resumed_from_step"] >= 10 and not ckpt.exists()
    resumed = (repo / "models/mono/qab/model.safetensors").read_bytes()

    run(["dvc", "repro", "-f", "-s", "mono@qab"], repo)  # the same run, uninterrupted
    fresh = json.loads((repo / "metrics/mono/qab.json").read_text())
    assert fresh["train"]["resumed_from_step"] == 0
    assert (repo / "models/mono/qab/model.safetensors").read_bytes() == resumed
    assert scientific(fresh)["mrr"] == metrics["mrr"]
    restore(repo)


def restore(repo: Path) -> None:
    """Put the shared repository back to its committed state for the tests after this."""
    run(["git", "checkout", "--", "."], repo)
    run(["dvc", "checkout", "-q"], repo, check=False)
