"""End to end: the real stages under `dvc repro`, in temporary git repositories."""

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import run

pytestmark = pytest.mark.e2e
SLOW = pytest.mark.slow

DATA_ARTIFACTS = (
    "data/dumps",
    "data/text",
    "data/samples/train",
    "data/samples/test",
    "data/samples/meta",
    "models/tokenizer",
    "metrics/samples",
    "metrics/tokenizer.json",
)  # the data half both clones build


def digests(repo: Path) -> dict[str, str]:
    out = {}
    for top in DATA_ARTIFACTS:
        for path in sorted([repo / top, *(repo / top).rglob("*")]):
            if path.is_file() and path.name != ".gitignore":
                out[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def test_repro_produces_every_artifact(built):
    (repo, _), (log, _) = built
    for code in ("qaa", "qab", "qae"):
        assert (repo / f"data/dumps/{code}wiki-20211101-pages-articles.xml.bz2").is_file()
        assert (repo / f"data/text/{code}.jsonl.gz").is_file()
        train = (repo / f"data/samples/train/{code}.txt").read_text()
        assert 12000 <= len(train.replace("\n", "")) < 13000
        assert (repo / f"metrics/samples/{code}.json").is_file()
    assert (repo / "models/tokenizer/tokenizer.json").is_file()
    assert re.search(r"ran \d+ stages, 0 unchanged", log)


@pytest.mark.slow
def test_two_fresh_clones_are_byte_identical(built, data_twin):
    (one, _), _ = built
    two = data_twin
    a, b = digests(one), digests(two)
    assert len(a) >= 20 and a == b


def test_second_repro_is_up_to_date_and_metrics_show(built_copy):
    repo = built_copy
    again = run(["dvc", "repro"], repo).stdout
    assert "Running stage" not in again and "up to date" in again
    shown = run(["dvc", "metrics", "show"], repo).stdout
    assert "metrics/samples/qaa.json" in shown and "metrics/tokenizer.json" in shown
    assert "information_ratio" in shown and "emd.sentence_tokens" in shown


DATA = ("dump@", "extract@", "sample@", "tokenizer:", "stats@", "tokenize@")
TRAINING = ("mono@qaa:", "pair@qab:", "pretrain@most:")


def stale_after(repo, key: str, value) -> str:
    """`dvc status` after setting one params key (dotted) to ``value``; where the settings
    stage is stale, also after it has rewritten the files the fanned-out stages depend on
    (as `dvc repro` runs it first)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    node = params
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    path.write_text(yaml.safe_dump(params))
    status = run(["dvc", "status"], repo).stdout
    if "settings:" in status:
        run(["dvc", "repro", "--single-item", "settings"], repo)
        status += run(["dvc", "status"], repo).stdout
    return status


@pytest.mark.parametrize(
    "key, value",
    [
        ("runtime.log_every", 3),
        ("runtime.checkpoint_every", 7),
        ("runtime.device", "cpu"),
        ("runtime.tracking.experiment", "elsewhere"),
        ("runtime.extract_processes", 2),
        ("dump.retries", 1),
    ],
)
def test_settings_that_change_no_result_rerun_nothing(built_copy, key, value):
    status = stale_after(built_copy, key, value)
    assert "up to date" in status and "settings:" not in status, status


@pytest.mark.parametrize(
    "key, value, stale, fresh",
    [
        ("seed", 2, (*TRAINING, "finetune@most-pos:"), DATA),
        ("model.hidden_size", 48, ("mono@qaa:", "pretrain@most:"), (*DATA, "pair@", "finetune@")),
        ("tokenizer.vocab_size", 1400, ("tokenizer:",), ("dump@", "extract@", "sample@")),
        # each case is a `dvc status` of a whole copy (4-9 s): the default run keeps the
        # three above (training, model shape, tokenizer), the slow run also these
        pytest.param("eval.bootstrap", 50, TRAINING, (*DATA, "finetune@"), marks=SLOW),
        pytest.param("train.lr", 0.001, TRAINING, (*DATA, "finetune@"), marks=SLOW),
        pytest.param(
            "downstream.finetune.lr", 0.01, ("finetune@most-pos:",), DATA + TRAINING, marks=SLOW
        ),
        pytest.param(
            "proxies.sentences", 5, ("zeroshot@qaa:",), (*DATA, *TRAINING, "overlap:"), marks=SLOW
        ),
    ],
)
def test_each_setting_reruns_only_what_it_affects(built_copy, key, value, stale, fresh):
    status = stale_after(built_copy, key, value)
    assert all(s in status for s in stale), status
    assert not any(s in status for s in fresh), status


def test_every_stage_run_is_in_mlflow_with_tags(built):
    (repo, _), _ = built
    db = sqlite3.connect(repo / "mlflow.db")
    rows = db.execute(
        "select r.name, t.key, t.value from runs r join tags t on r.run_uuid = t.run_uuid"
    ).fetchall()
    tags: dict[str, dict[str, str]] = {}
    for run_name, key, value in rows:
        tags.setdefault(run_name, {})[key] = value
    expected = {
        f"{s}@{c}" for s in ("dump", "extract", "sample", "stats") for c in ("qaa", "qab", "qae")
    } | {"tokenizer", "scores", "mono@qaa", "pair@qab-qaa"}
    assert expected <= set(tags)
    for name in expected:
        assert {"stage", "seed", "git_revision"} <= set(tags[name]), name
        assert len(tags[name]["git_revision"]) == 40
    assert tags["sample@qab"]["language"] == "qab"
    metrics = {k for (k,) in db.execute("select distinct key from metrics")}
    assert {
        "information_ratio",
        "emd.sentence_words",
        "pages",
        "mrr",
        "loss",
        "learning_rate",
        "tokens_per_second",
    } <= metrics
    assert tags["pair@qab-qaa"]["source"] == "qab" and tags["pair@qab-qaa"]["target"] == "qaa"
    steps = db.execute(
        "select count(distinct m.step) from metrics m join runs r on "
        "m.run_uuid = r.run_uuid where r.name = 'mono@qaa' and m.key = 'loss'"
    )
    assert steps.fetchone()[0] >= 2  # a loss curve, not a single point


@pytest.mark.slow  # a pipeline run of its own
def test_short_language_fails_cleanly(tmp_path):
    from conftest import make_repo, tiny_params

    repo = make_repo(
        tmp_path / "short",
        tiny_params(
            languages=["qaa"],
            studied=["qaa"],
            sample={"chars_per_language": 10_000_000},
            runtime={"tracking": {"enabled": False}},
        ),
    )
    proc = run(["dvc", "repro", "sample@qaa"], repo, check=False)
    assert proc.returncode != 0
    assert "error: data/text/qaa.jsonl.gz (qaa): has " in proc.stderr + proc.stdout
    assert "10,000,000 sample" in proc.stderr + proc.stdout
    assert not (repo / "data/samples/train/qaa.txt").exists()
    assert not any(p.name.endswith(".tmp") for p in (repo / "data").rglob("*"))
    assert os.path.exists(repo / "data/text/qaa.jsonl.gz")
