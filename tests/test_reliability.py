"""Hostile and careless input: params, paths and processes that must end in one line,
leave nothing behind, run no shell command, call no network and write only inside the
repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, make_repo, run, slow, tiny_params

from bloodbank.core.config import load_params
from bloodbank.core.paths import PIPELINES

LBB = [sys.executable, "-m", "bloodbank.cli"]


def one_line_error(proc: subprocess.CompletedProcess, expected: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expected in lines[0], lines[0]


# --- 2. no params value reaches a shell -------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    "code, expected",
    [
        ("qaa; touch {marker}; echo", "is not of the form 'xx' or 'xxx'"),
        ("$(touch {marker})", "is not of the form 'xx' or 'xxx'"),
        ("`touch {marker}`", "is not of the form 'xx' or 'xxx'"),
        # DVC resolves outputs before any stage runs, and .dvcignore keeps them in the
        # pipeline's folders: its own error names the path
        ("../../etc", "../../etcwiki-20211101-pages-articles.xml.bz2' is ignored by .dvcignore"),
    ],
)
@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_no_params_value_reaches_a_shell(tmp_path, code, expected):
    repo = make_repo(tmp_path / "repo", tiny_params(runtime={"tracking": {"enabled": False}}))
    marker = tmp_path / "marker"
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["languages"] = [code.format(marker=marker)]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run(["dvc", "repro"], repo, check=False)
    assert proc.returncode != 0
    assert not marker.exists(), "a params value ran as a shell command"
    assert expected in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # nothing outside it


def test_dvc_yaml_commands_hold_no_interpolated_value():
    for pipeline in PIPELINES:
        for line in (ROOT / pipeline).read_text().splitlines():
            if line.strip().startswith("cmd:"):
                assert "${" not in line, line


# --- 4, 5. bad params are refused in one line ------------------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"dump": {"local_pattern": "dumps/{lang}.bz2"}}, "not {lang}"),
        ({"dump": {"local_pattern": "dumps/{0}.bz2"}}, "not {0}"),
        ({"dump": {"local_pattern": "dumps/{wiki.bz2"}}, "not a valid pattern"),
        ({"train": {"epochs": float("inf")}}, "train.epochs: Input should be a finite number"),
        ({"train": {"batch_size": True}}, "train.batch_size: Input should be a valid integer"),
        ({"train": {"batch_size": "32"}}, "train.batch_size: Input should be a valid integer"),
        (
            {"downstream": {"max_sentences": {"pos": -1, "ner": 5}}},
            "downstream.max_sentences.pos: Input should be greater than 0",
        ),
        ({"languages": [], "studied": []}, "languages: List should have at least 1 item"),
        (
            {"graph": {"baseline": "matched"}, "pairs": {"matched_diagonal": False}},
            "graph.baseline: matched needs the diagonal",
        ),
    ],
)
def test_bad_params_end_in_one_line(tmp_path, change, expected):
    params = tiny_params()
    for key, value in change.items():
        if isinstance(value, dict):
            params[key] = {**params.get(key, {}), **value}
        else:
            params[key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    one_line_error(
        subprocess.run([*LBB, "config", "--params", str(path)], capture_output=True, text=True),
        expected,
    )


# --- 4. lbb given bad paths and bad files ------------------------------------------------


def lbb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``lbb args`` in ``cwd``; a hang (as `lbb repro --workers 0` once did) fails the test."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT")}
    return subprocess.run(
        [*LBB, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["dump", "missing.xml.bz2"], "missing.xml.bz2: no such file"),
        (["dump", "folder"], "folder: is a directory"),
        (["graph", "--matrix", "missing.csv", "--out", "out"], "missing.csv: no such file"),
        (["graph", "--matrix", "folder", "--out", "out"], "folder: not a file"),
        slow(
            ["graph", "--matrix", "m.csv", "--mono", "broken.json", "--out", "out"],
            "not valid JSON",
        ),
        slow(["graph", "--matrix", "huge.csv", "--out", "out"], "beyond any plausible"),
        slow(["tables"], "metrics/sets.json: not found"),
        # 0 or fewer pairs claimed "every pair is measured already" and exited 0
        slow(["next-pairs", "0"], "N must be at least 1, not 0"),
        slow(["next-pairs", "-3"], "N must be at least 1, not -3"),
        # Ray hung on an instance without CPUs, or failed with its traceback
        slow(["repro", "--workers", "0"], "--workers must be at least 1, not 0"),
        slow(["repro", "--workers", "-1"], "--workers must be at least 1, not -1"),
        slow(["repro", "--retries", "-1"], "--retries must be at least 0, not -1"),
        slow(["repro", "--gpus-per-training", "0"], "--gpus-per-training must be above 0, not 0"),
    ],
)
def test_lbb_bad_paths_and_files_end_in_one_line(tmp_path, args, expected):
    (tmp_path / "folder").mkdir()
    (tmp_path / "m.csv").write_text("source,en,de\nen,,15\nde,-20,\n")
    (tmp_path / "huge.csv").write_text("source,en,de\nen,,1e308\nde,2,\n")
    (tmp_path / "broken.json").write_text('{"en": 0.2,')
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    one_line_error(lbb(*args, cwd=tmp_path), expected)
    assert not (tmp_path / "out").exists(), "a failed `lbb graph` left its --out behind"
    assert not (tmp_path / ".cache").exists(), "lbb made a cache folder outside a repository"


def test_lbb_tables_without_a_store_creates_none(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    (tmp_path / "metrics").mkdir()
    sets = {"sets": {"most_recipient": ["qaa"], "least_recipient": ["qab"]}, "reasons": {}}
    (tmp_path / "metrics/sets.json").write_text(json.dumps(sets))
    proc = lbb("tables", cwd=tmp_path)
    assert proc.returncode == 1 and "no MLflow store at" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()


# --- 5. a stage without its inputs fails instead of writing empty results ---------------


@pytest.mark.parametrize("present", [[], ["most-pos"]])
def test_the_tables_stage_refuses_missing_finetune_results(tmp_path, present):
    params = tiny_params(runtime={"tracking": {"enabled": False}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "metrics/finetune").mkdir(parents=True)
    sets = {"sets": {"most_recipient": ["qaa"], "least_recipient": ["qab"]}, "reasons": {}}
    (tmp_path / "metrics/sets.json").write_text(json.dumps(sets))
    for name in present:
        config, task = name.split("-")
        scores = {"0": {"qaa": {"qaa": 90.0, "qab": 40.0}, "qab": {"qaa": 41.0, "qab": 88.0}}}
        data = {"config": config, "task": task, "scores": scores}
        (tmp_path / f"metrics/finetune/{name}.json").write_text(json.dumps(data))
    proc = subprocess.run(
        [sys.executable, "-P", str(ROOT / "stages/tables.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    one_line_error(proc, "missing finetune results: ")
    assert "metrics/finetune/least-pos.json" in proc.stderr
    assert ("most-pos.json" in proc.stderr) == (not present)
    assert not (tmp_path / "metrics/downstream.json").exists()
    assert not (tmp_path / "reports/tables.md").exists()


# --- 6. defaults that exercise what they promise ----------------------------------------


def test_the_default_mono_run_writes_a_resumable_checkpoint():
    """A default mono run is longer than the checkpoint interval, so a killed default
    run really resumes (the committed metrics give the step count)."""
    params = load_params(ROOT / "params.yaml")
    steps = json.loads((ROOT / "metrics/mono/qaa.json").read_text())["train"]["steps"]
    assert steps > params.runtime.checkpoint_every


def test_the_committed_lock_matches_the_languages():
    """A fresh clone must not rerun the tokenizer because of a stale input listing."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    deps = {d["path"]: d for d in lock["stages"]["tokenizer"]["deps"]}
    languages = load_params(ROOT / "params.yaml").languages
    assert deps["data/samples/train"]["nfiles"] == len(languages)


def test_the_committed_lock_holds_no_stage_of_another_configuration():
    """DVC keeps the lock entry of a stage that a changed configuration no longer has,
    and rewrites (parses and dumps) the whole lock after every stage: stale entries only
    cost time (bench/bench_time.py), and mislead a reader."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        names = {stage.addressing for stage in repo.index.stages}
    for pipeline in PIPELINES:  # a stage of downstream/dvc.yaml is addressed with its file
        prefix = "" if pipeline == "dvc.yaml" else f"{pipeline}:"
        lock = yaml.safe_load((ROOT / pipeline).with_name("dvc.lock").read_text())
        assert sorted({prefix + name for name in lock["stages"]} - names) == []


# --- 1. queued experiments read their own params ----------------------------------------


@pytest.mark.slow
@pytest.mark.e2e
def test_queued_experiments_train_with_their_own_params(built_copy):
    repo = built_copy
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    for seed in (3, 4):
        run(
            ["dvc", "exp", "run", "--queue", "-n", f"s{seed}", "-S", f"seed={seed}", "mono@qaa"],
            repo,
        )
    run(["dvc", "queue", "start", "-j", "2"], repo)
    deadline = time.time() + 600
    while time.time() < deadline:
        status = run(["dvc", "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert "Success" in status and "Failed" not in status, status
    seen = {}
    for seed in (3, 4):
        run(["dvc", "exp", "apply", f"s{seed}"], repo)
        metrics = json.loads((repo / "metrics/mono/qaa.json").read_text())
        weights = (repo / "models/mono/qaa/model.safetensors").read_bytes()
        assert metrics["seed"] == seed
        seen[seed] = (metrics["mrr"], weights)
    assert seen[3][0] != seen[4][0] and seen[3][1] != seen[4][1]
    import sqlite3  # the MLflow store stays in the main repository, tagged per seed

    db = sqlite3.connect(repo / "mlflow.db")
    tagged = {
        v
        for (v,) in db.execute(
            "select t.value from tags t join runs r on t.run_uuid = r.run_uuid "
            "where t.key = 'seed' and r.name = 'mono@qaa'"
        )
    }
    assert {"3", "4"} <= tagged


# --- 3. MLflow stays inside the repository, and the network stays silent ----------------


@pytest.mark.slow
def test_a_copied_repository_writes_artifacts_into_itself(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from bloodbank.core.config import Params
    from bloodbank.tracking.runs import stage_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    original, copy = tmp_path / "original", tmp_path / "copy"
    for repo in (original,):
        repo.mkdir()
        (repo / "report").mkdir()
        (repo / "report/a.txt").write_text("a")
    cfg = Params.model_validate({"runtime": {"tracking": {"experiment": "t"}}})
    monkeypatch.setenv("DVC_ROOT", str(original))
    with stage_run("graph", cfg) as run_:
        run_.log_artifacts(original / "report")
    shutil.copytree(original, copy)
    before = sorted(p.relative_to(original) for p in original.rglob("*"))
    monkeypatch.setenv("DVC_ROOT", str(copy))
    with stage_run("graph", cfg) as run_:
        run_.log_artifacts(copy / "report")
    assert sorted(p.relative_to(original) for p in original.rglob("*")) == before
    client = MlflowClient(f"sqlite:///{copy / 'mlflow.db'}")
    exp = client.get_experiment_by_name("t")
    assert exp.artifact_location.startswith(copy.as_uri())
    uris = [r.info.artifact_uri for r in client.search_runs([exp.experiment_id])]
    assert len(uris) == 2 and all(u.startswith(copy.as_uri()) for u in uris)


SOCKET_AUDIT = """
import os, socket, sys
_log = os.environ["BLOODBANK_SOCKET_LOG"]
def _hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.connect"):
        if event == "socket.connect" and args[0].family == socket.AF_UNIX:
            return
        with open(_log, "a") as fh:
            fh.write(f"{os.getpid()} {event} {args[1:]!r}\\n")
sys.addaudithook(_hook)
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    "stage",
    [["stages/graph.py"], pytest.param(["stages/mono.py", "qaa"], marks=pytest.mark.slow)],
)
@pytest.mark.slow  # a few seconds: kept out of the 6-minute default run
def test_a_stage_calls_no_network_and_writes_nothing_outside_the_repo(built_copy, tmp_path, stage):
    """Every socket look-up and connection of the stage (its MLflow run included) is
    recorded by an audit hook; the home folder is a fresh empty one."""
    hook, home = tmp_path / "hook", tmp_path / "home"
    hook.mkdir()
    home.mkdir()
    (hook / "sitecustomize.py").write_text(SOCKET_AUDIT)
    log = tmp_path / "sockets.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "MPLCONFIGDIR", "HF_HOME")
    }
    env.update(
        HOME=str(home),
        PYTHONPATH=str(hook),
        BLOODBANK_SOCKET_LOG=str(log),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-P", *stage], cwd=built_copy, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert not log.exists(), log.read_text()
    assert sorted(home.rglob("*")) == [], "the stage wrote into the home folder"


@pytest.mark.parametrize(
    ("cells", "args", "expected"),
    [
        # two languages: every design keeps both pairs, so nothing was hidden and the
        # backtest reported Spearman 1.0, RMSE 0.0 and coverage 1.0
        ({("qaa", "qab"): 5, ("qab", "qaa"): 3}, [], "needs 3 languages or more, not 2"),
        # equal cells: no ranking to recover (NaN Spearman and scipy's warnings before)
        slow(dict.fromkeys(permutations(["qaa", "qab", "qac"], 2), 5.0), [], "nothing to rank"),
        # 4 languages at 30%: one pair per language, too few for the estimate (a traceback)
        slow(
            {p: float(i) for i, p in enumerate(permutations(["qaa", "qab", "qac", "qad"], 2))},
            ["--fraction", "0.3,0.5", "--draws", "2"],
            "too few to estimate; try a larger --fraction",
        ),
        slow(
            {("qaa", "qab"): 5, ("qab", "qaa"): 3}, ["--draws", "0"], "--draws must be at least 1"
        ),
    ],
)
def test_lbb_backtest_refuses_what_it_cannot_measure(tmp_path, cells, args, expected):
    langs = sorted({lang for pair in cells for lang in pair})
    frame = pd.DataFrame(np.nan, index=pd.Index(langs, name="source"), columns=langs)
    for (s, t), value in cells.items():
        frame.loc[s, t] = value
    frame.to_csv(tmp_path / "m.csv")
    proc = lbb("backtest", "--matrix", "m.csv", "--kind", "percent", *args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # after the progress bar, if it started
    last = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", last).strip()  # the bars' clearing codes
    assert last.startswith("error: m.csv: ") or last.startswith("error: --draws"), last
    assert expected in last, last


# --- the estimate stage on what it cannot estimate --------------------------------------

LANGS4 = ["qaa", "qab", "qac", "qad"]


def _scores_frame(cells: dict[tuple[str, str], object]) -> pd.DataFrame:
    frame = pd.DataFrame("", index=pd.Index(LANGS4, name="source"), columns=LANGS4, dtype=object)
    for (s, t), value in cells.items():
        frame.loc[s, t] = value
    return frame


ALL_CELLS = {p: float(i) for i, p in enumerate(permutations(LANGS4, 2))}


def _proxy_files(metrics: Path) -> None:
    """What the zeroshot and overlap stages would have written for LANGS4."""
    (metrics / "zeroshot").mkdir()
    for i, src in enumerate(LANGS4):
        targets = {t: {"mrr": 0.3 if t == src else 0.1 + 0.01 * i} for t in LANGS4}
        (metrics / "zeroshot" / f"{src}.json").write_text(json.dumps({"targets": targets}))
    overlap = pd.DataFrame(np.eye(4) * 0.5 + 0.5, index=LANGS4, columns=LANGS4)
    overlap.to_csv(metrics / "overlap.csv")


@pytest.mark.parametrize(
    "cells, expected",
    [
        # the default's 4 languages under a balanced design: a traceback before
        (
            {
                p: ALL_CELLS[p]
                for p in [("qaa", "qab"), ("qab", "qac"), ("qac", "qad"), ("qad", "qaa")]
            },
            "4 measured pairs for 4 languages: too few to estimate",
        ),
        # qad is no measured pair's source (ValueError before)
        (
            {p: v for p, v in ALL_CELLS.items() if p[0] != "qad"},
            "no measured pair has qad as its source",
        ),
        # a text cell (TypeError at completion.py before)
        (
            {**ALL_CELLS, ("qab", "qac"): "high"},
            "cell qab→qac (row qab, column qac) is not a number",
        ),
        # nothing measured (StopIteration before)
        ({}, "every off-diagonal cell is empty: no pair was measured"),
    ],
)
def test_the_estimate_stage_refuses_what_it_cannot_estimate(tmp_path, cells, expected):
    params = tiny_params(studied=LANGS4, languages=LANGS4, runtime={"tracking": {"enabled": False}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "metrics").mkdir()
    frame = _scores_frame(cells)
    frame.to_csv(tmp_path / "metrics/finetune_scores.csv")
    _scores_frame({}).to_csv(tmp_path / "metrics/finetune_scores_matched.csv")
    mono = {"mono_mrr": dict.fromkeys(LANGS4, 0.3)}
    (tmp_path / "metrics/scores.json").write_text(json.dumps(mono))
    _proxy_files(tmp_path / "metrics")
    proc = subprocess.run(
        [sys.executable, "-P", str(ROOT / "stages/estimate.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    one_line_error(proc, expected)
    assert "metrics/finetune_scores.csv: " in proc.stderr
    assert not (tmp_path / "metrics/estimate").exists()
    assert not (tmp_path / "metrics/estimate.json").exists()


# --- no value of params.yaml makes DVC delete a user's file ------------------------------


def _careless(repo: Path, kind: str) -> tuple[str, Path]:
    """Write a careless value into the studied or all languages; the stage it names and
    the user's file that stage's outputs would be."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    if kind == "studied":  # models/pairs/../../victim
        params["studied"].append("../../victim")
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        return "pair@../../victim", repo / "victim"
    params["languages"].append("../../../victimx")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    return "sample@../../../victimx", repo / "victimx.txt"


@pytest.mark.e2e
@pytest.mark.slow  # about 40 s: three runners on two values
@pytest.mark.parametrize("kind", ["studied", "languages"])
def test_a_careless_value_deletes_no_file(tmp_path, kind):
    repo = make_repo(tmp_path / "repo", tiny_params(runtime={"tracking": {"enabled": False}}))
    stage, victim = _careless(repo, kind)
    victim.write_text("the user's own file\n")
    runners = {
        "dvc repro": ["dvc", "repro"],
        "dvc repro -s": ["dvc", "repro", "-s", stage],
        "dvc exp run -s": ["dvc", "exp", "run", "-s", stage],
        "lbb repro": [*LBB, "repro", stage],
    }
    for runner, cmd in runners.items():
        proc = run(cmd, repo, check=False)
        assert proc.returncode != 0, runner
        assert victim.read_text() == "the user's own file\n", f"{runner} deleted {victim.name}"
        assert "Traceback" not in proc.stdout + proc.stderr, runner
    # lbb repro says why in one line, before DVC plans anything
    one_line_error(proc, "../../victim" if kind == "studied" else "../../../victimx")


@pytest.mark.slow  # waits for Ray's connection timeout
def test_lbb_repro_on_an_unreachable_cluster_fails_in_seconds(tmp_path):
    """Ray retried for over two minutes, and Ctrl-C then claimed stages were stopped."""
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    started = time.monotonic()
    proc = lbb("repro", "--address", "127.0.0.1:1", cwd=tmp_path)
    one_line_error(proc, "--address 127.0.0.1:1: no Ray cluster answers there")
    assert time.monotonic() - started < 60


@pytest.mark.slow  # ten seconds or so
def test_a_long_backtest_shows_progress_within_seconds_and_stops_on_ctrl_c(tmp_path):
    import threading

    from bloodbank.core.languages import REGISTRY

    rng = np.random.default_rng(0)
    langs = sorted(REGISTRY)[:40]
    frame = pd.DataFrame(
        rng.normal(0, 10, (40, 40)), index=pd.Index(langs, name="source"), columns=langs
    )
    frame.to_csv(tmp_path / "m.csv")
    proc = subprocess.Popen(
        # 50 draws a fraction: minutes, so Ctrl-C lands mid-run however loaded the host
        # (the default's 19 s once finished first on a busy 2-core machine)
        [
            *LBB,
            "backtest",
            "--matrix",
            "m.csv",
            "--kind",
            "percent",
            "--draws",
            "50",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    seen = bytearray()

    def read() -> None:  # byte by byte: a progress bar ends its lines with \r
        while byte := proc.stderr.read(1):
            seen.extend(byte)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while b" fit" not in seen and time.monotonic() < deadline:
            time.sleep(0.2)
        assert b"model fits" in seen, "no progress within 30 s (imports included)"
        proc.send_signal(2)  # SIGINT: Ctrl-C
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
        reader.join(timeout=10)
    last = seen.decode().replace("\r", "\n").strip().splitlines()[-1]
    assert last.endswith("interrupted"), last  # after the bars' own clearing codes
    assert not (tmp_path / "out").exists()
