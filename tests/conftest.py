"""Shared fixtures: tiny configurations and temporary DVC repositories."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bloodbank.core import paths
from bloodbank.core.config import Params
from bloodbank.core.overlays import merge, render
from bloodbank.core.settings import write_settings

ROOT = Path(__file__).resolve().parents[1]

# Stages run by the tests start cold, each test repository a new environment: a warm
# stage server per repository would import torch beside the test for a stage or two.
# tests/test_warmstart.py and the serial `dvc repro` of test_parallel.py turn it on.
os.environ.setdefault("LBB_WARM_STAGES", "0")

TINY_PARAMS = {
    "seed": 0,
    "languages": ["qaa", "qab", "qae"],
    "studied": ["qaa", "qab", "qae"],
    "dump": {"source": "synthetic", "date": "20211101"},
    "synthetic": {"world_seed": 0, "articles": 60},
    "sample": {"seed": 0, "chars_per_language": 12000, "test_chars": 3000},
    "stats": {"reference_sentences": 1000},
    "tokenizer": {"vocab_size": 1500, "min_frequency": 2},
    "model": {
        "hidden_size": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    },
    "train": {
        "batch_size": 16,
        "epochs": 1,
        "lr": 0.002,
        "max_length": 64,
        "threads": 2,
    },
    # the study's pair recipe and the compute-matched diagonal (configs/study-recipe.yaml):
    # the end-to-end checks of the planted truth read F against both baselines
    "pair_recipe": {"epochs": None, "lr": None},
    "pairs": {"matched_diagonal": True},
    "eval": {"bootstrap": 100, "passes": 2},  # passes > 1 exercised, at half the default cost
    "downstream": {
        "total_chars": 12000,
        "tasks": ["pos"],
        "max_sentences": {"pos": 40, "ner": 40},
        "eval_sentences": 20,
        "finetune": {"epochs": 1, "seeds": 2},
    },
    "runtime": {"log_every": 5, "tracking": {"experiment": "test", "enabled": True}},
}


def slow(*case):
    """A parametrized case for the slow run (one that starts a fresh process)."""
    return pytest.param(*case, marks=pytest.mark.slow)


def tiny_params(**overrides) -> dict:
    """The tiny world with ``overrides`` laid on, section by section."""
    return merge(copy.deepcopy(TINY_PARAMS), overrides)


def write_params(repo: Path, params: dict) -> None:
    """params.yaml for stages run by hand, and the settings files the fanned-out stages
    check it against (the settings stage writes them under `dvc repro`)."""
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    write_settings(Params.model_validate(params), repo / paths.SETTINGS, root=repo)


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def make_repo(path: Path, params: dict) -> Path:
    """A fresh git + DVC repository holding the project's pipeline and code."""
    path.mkdir(parents=True, exist_ok=True)
    for item in ("stages", "src", "configs", "downstream"):
        shutil.copytree(ROOT / item, path / item, ignore=shutil.ignore_patterns("__pycache__"))
    for item in ("dvc.yaml", ".gitignore"):
        shutil.copy(ROOT / item, path / item)
    for folder in ("data", "models"):
        (path / folder).mkdir(exist_ok=True)
        shutil.copy(ROOT / folder / ".gitignore", path / folder / ".gitignore")
    # DVC needs every key a stage names, so write the complete, validated params.
    valid = Params.model_validate(params)
    (path / "params.yaml").write_text(render(valid, []))
    run(["git", "init", "-q"], path)
    run(["git", "config", "user.email", "test@example.org"], path)
    run(["git", "config", "user.name", "test"], path)
    run(["dvc", "init", "-q"], path)
    shutil.copy(ROOT / ".dvcignore", path / ".dvcignore")  # after init, which writes its own
    run(["dvc", "config", "core.analytics", "false"], path)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-qm", "init"], path)
    return path


@pytest.fixture
def repo_factory(tmp_path):
    def factory(name: str = "repo", **overrides) -> Path:
        return make_repo(tmp_path / name, tiny_params(**overrides))

    return factory


def _without_tracking_uri():
    return {k: os.environ.pop(k) for k in ("MLFLOW_TRACKING_URI",) if k in os.environ}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A fresh repository that ran both tiny pipelines (the transfer graph and the
    downstream study): ``((repo, None), (log, ""))``.

    Built with ``lbb repro --workers 2`` (the real stages, forked from warm workers two
    at a time, recorded by DVC): a serial ``dvc repro`` spends most of its 5 minutes
    importing torch once per stage, this about 1.5. The slow test
    ``test_dvc_repro_gives_the_same_hashes_as_lbb_repro_and_a_sound_store`` holds the two
    to the same outputs, and CI runs ``dvc repro`` on the default itself.
    Session-wide and never modified: a test that changes it uses ``built_copy``."""
    base = tmp_path_factory.mktemp("pipeline")
    backup = _without_tracking_uri()
    try:
        repo = make_repo(base / "one", tiny_params())
        lbb = [sys.executable, "-m", "bloodbank.cli", "repro", "--all-pipelines"]
        log = run([*lbb, "--workers", "2"], repo).stdout
    finally:
        os.environ.update(backup)
    return (repo, None), (log, "")


@pytest.fixture(scope="session")
def data_twin(tmp_path_factory):
    """A second fresh repository that built only the data half (no MLflow), to compare
    bytes with ``built``."""
    backup = _without_tracking_uri()
    try:
        repo = make_repo(
            tmp_path_factory.mktemp("twin") / "two",
            tiny_params(runtime={"tracking": {"enabled": False}}),
        )
        run(["dvc", "repro", "--glob", "stats@*"], repo)
    finally:
        os.environ.update(backup)
    return repo


@pytest.fixture
def built_copy(built, tmp_path) -> Path:
    """A private copy of the built pipeline repository, for a test that changes it.

    The session's ``built`` repository is never modified, so no test depends on which
    tests ran before it. The copy keeps git history and DVC cache (all paths relative).
    """
    (repo, _), _ = built
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    return copy


def until(check, seconds: float, every: float = 0.1) -> bool:
    """Whether ``check()`` comes true within ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(every)
    return False


def gone(pid: int, seconds: float = 15) -> bool:
    def dead() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    return until(dead, seconds)
