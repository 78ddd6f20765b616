"""`lbb repro`: DVC's plan and records, Ray's execution."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import make_repo, run, tiny_params

from bloodbank.core.config import Params
from bloodbank.parallel.plan import Resources, kind, resources_for, training_chars

LBB = [sys.executable, "-m", "bloodbank.cli"]


def test_resources_follow_the_stage_kind():
    assert kind("pair@qaa-qab") == "pair" and kind("sub/dvc.yaml:mono@qaa") == "mono"
    assert resources_for("mono@qaa", threads=4, gpu_share=0) == Resources(4)
    assert resources_for("pair@qaa-qab", threads=4, gpu_share=0.25) == Resources(1, 0.25)
    assert resources_for("finetune@most-pos", 2, 0) == Resources(2)
    assert resources_for("dump@qaa", threads=4, gpu_share=1) == Resources(1)
    params = Params.model_validate(tiny_params())
    assert training_chars("mono@qaa", params) == 12000 * 1  # chars × epochs
    assert training_chars("graph", params) == 0


@pytest.fixture
def ray_gpus():
    """A local Ray instance that declares two GPUs this machine does not have."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_gpu_shares_are_placed_by_ray_with_declared_resources(ray_gpus, tmp_path):
    from bloodbank.parallel.execute import run_command

    task = ray_gpus.remote(run_command)
    cmd = "echo $CUDA_VISIBLE_DEVICES"
    whole = [
        task.options(**Resources(1, 1).ray_options()).remote(
            cmd, str(tmp_path), {}, str(tmp_path / f"w{i}.log")
        )
        for i in range(2)
    ]
    devices = sorted(ray_gpus.get(ref)[2] for ref in whole)
    assert devices == ["0", "1"]  # one GPU each, never the same one at once
    quarter = task.options(**Resources(1, 0.25).ray_options()).remote(
        cmd, str(tmp_path), {}, str(tmp_path / "q.log")
    )
    code, last, device = ray_gpus.get(quarter)
    assert code == 0 and device in ("0", "1") and last == device


def toy_repo(path: Path, fail: bool) -> Path:
    """Three stages: a → b, and c on its own. ``a`` fails while FAIL exists."""
    path.mkdir()
    run(["git", "init", "-q"], path)
    run(["dvc", "init", "-q"], path)
    (path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    (path / "dvc.yaml").write_text(
        textwrap.dedent("""\
        stages:
          a:
            cmd: 'test ! -e FAIL || { echo "error: a broke"; exit 1; }; echo a > a.txt'
            outs: [a.txt]
          b:
            cmd: 'cat a.txt > b.txt; echo "$DVC_STAGE" >> b.txt'
            deps: [a.txt]
            outs: [b.txt]
          c:
            cmd: echo c > c.txt
            outs: [c.txt]
        """)
    )
    if fail:
        (path / "FAIL").write_text("")
    return path


def lbb_repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}
    return subprocess.run(
        [*LBB, "repro", "--workers", "2", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.e2e
def test_a_failure_stops_its_descendants_and_a_rerun_runs_only_what_is_stale(tmp_path):
    repo = toy_repo(tmp_path / "toy", fail=True)
    first = lbb_repro(repo)
    assert first.returncode == 1
    assert "failed: a: error: a broke" in first.stderr
    assert "not run (after a failure): b" in first.stderr
    assert (repo / "c.txt").read_text() == "c\n"  # the other branch went on
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(lock) == {"c"}  # only finished stages are recorded

    (repo / "FAIL").unlink()
    second = lbb_repro(repo)
    assert second.returncode == 0, second.stderr
    assert "ran 2 stages" in second.stdout  # a and b; c is up to date
    assert (repo / "b.txt").read_text() == "a\nb\n"  # DVC_STAGE names the stage
    assert "up to date" in run(["dvc", "status"], repo).stdout
    assert "ran 0 stages, 3 unchanged" in lbb_repro(repo).stdout


@pytest.mark.e2e
def test_dry_run_lists_the_plan_with_resources_and_runs_nothing(tmp_path):
    repo = toy_repo(tmp_path / "toy", fail=False)
    proc = lbb_repro(repo, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "3 of 3 stages stale now" in proc.stdout and "1 CPU" in proc.stdout
    assert not (repo / "a.txt").exists() and not (repo / "dvc.lock").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_lbb_repro_gives_the_same_hashes_as_dvc_repro_and_a_sound_store(built, tmp_path):
    """The tiny pipeline in parallel: the outputs recorded in dvc.lock are those of a
    serial `dvc repro` of the same code, and every stage has its MLflow run."""
    (serial, _), _ = built
    repo = make_repo(tmp_path / "parallel", tiny_params())
    proc = lbb_repro(repo)
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in run(["dvc", "status"], repo).stdout

    def outs(root: Path) -> dict[str, str]:
        lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
        return {
            o["path"]: o.get("md5")
            for s in lock.values()
            for o in s.get("outs", [])
            if not o["path"].startswith("metrics/timings/")
        }

    assert outs(repo) == outs(serial)
    db = sqlite3.connect(repo / "mlflow.db")
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    stages = {
        v
        for (v,) in db.execute(
            "select t.value from tags t join runs r on t.run_uuid = r.run_uuid "
            "where t.key = 'stage' and r.status = 'FINISHED'"
        )
    }
    expected = {
        s.split("@")[0]
        for s in json.loads(
            json.dumps(list(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]))
        )
    }
    assert expected - {"tokenize", "sample_pretrain", "task_data"} <= stages
