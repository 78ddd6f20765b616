"""`lbb repro`: DVC's plan and records, Ray's execution."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from conftest import gone, make_repo, run, tiny_params, until
from test_tracking import STAGE

from bloodbank.core.config import Params
from bloodbank.parallel.plan import Resources, kind, resources_for, training_chars

LBB = [sys.executable, "-m", "bloodbank.cli"]


def test_resources_follow_the_stage_kind():
    assert kind("pair@qaa") == "pair" and kind("sub/dvc.yaml:mono@qaa") == "mono"
    assert resources_for("mono@qaa", threads=4, gpu_share=0) == Resources(4)
    assert resources_for("pair@qaa", threads=4, gpu_share=0.25) == Resources(1, 0.25)
    assert resources_for("finetune@most-pos", 2, 0) == Resources(2)
    assert resources_for("zeroshot@qaa", 2, 0) == Resources(2)  # it runs models too
    assert resources_for("dump@qaa", threads=4, gpu_share=1) == Resources(1)
    params = Params.model_validate(tiny_params())
    assert training_chars("mono@qaa", params) == 12000 * 1  # chars × epochs
    assert training_chars("pair@qaa", params) == 12000 * 1 * 3  # qab, qae and the diagonal
    assert training_chars("graph", params) == 0
    brief = params.model_copy(
        update={"pair_recipe": params.pair_recipe.model_copy(update={"epochs": 0.5})}
    )
    assert training_chars("pair@qaa", brief) == 6000 * 3  # a pair's own epochs
    assert training_chars("mono@qaa", brief) == 12000


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
            cmd, str(tmp_path), {}, str(tmp_path / f"w{i}.log"), False
        )
        for i in range(2)
    ]
    devices = sorted(ray_gpus.get(ref)[2] for ref in whole)
    assert devices == ["0", "1"]  # one GPU each, never the same one at once
    quarter = task.options(**Resources(1, 0.25).ray_options()).remote(
        cmd, str(tmp_path), {}, str(tmp_path / "q.log"), False
    )
    code, last, device = ray_gpus.get(quarter)
    assert code == 0 and device in ("0", "1") and last == device


@pytest.mark.slow  # starts a Ray instance of its own
def test_a_local_instance_runs_stages_at_the_users_priority(monkeypatch, tmp_path):
    """Ray's default worker niceness (15) would make `lbb repro` yield to every job."""
    from bloodbank.parallel.driver import NICENESS, ReproOptions, _init_ray, local_worker_niceness

    monkeypatch.setenv(NICENESS, "15")
    local_worker_niceness()
    assert os.environ[NICENESS] == "15"  # the user's own setting stands
    monkeypatch.delenv(NICENESS)
    ray = _init_ray(ReproOptions(targets=[], workers=1))
    try:
        from bloodbank.parallel.execute import run_command

        ref = ray.remote(run_command).remote("nice", str(tmp_path), {}, str(tmp_path / "n"), False)
        code, last, _ = ray.get(ref)
        assert code == 0 and last == str(os.nice(0))  # `nice` prints the stage's niceness
    finally:
        ray.shutdown()


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


def clean_env() -> dict[str, str]:
    """The environment without variables that would point a repo at another one."""
    return {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}


def lbb_repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LBB, "repro", "--workers", "2", *args],
        cwd=repo,
        env=clean_env(),
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
def test_the_plan_calls_stale_what_dvc_status_calls_stale(tmp_path):
    repo = toy_repo(tmp_path / "toy", fail=False)
    run(["dvc", "repro", "c"], repo)  # c is up to date, a and b are not
    (repo / "c.txt").write_text("changed by hand\n")  # ...and now c is stale again
    run(["dvc", "repro", "a"], repo)
    status = run(["dvc", "status"], repo).stdout
    stale_in_dvc = {x.rstrip(":") for x in status.splitlines() if x and not x[0].isspace()}
    plan = lbb_repro(repo, "--dry-run").stdout
    rows = {line.split()[0]: line.split()[1] for line in plan.splitlines()[1:-1]}
    assert {name for name, state in rows.items() if state == "stale"} == stale_in_dvc
    assert stale_in_dvc == {"b", "c"} and rows["a"] == "up"  # "up to date"


@pytest.mark.slow
@pytest.mark.e2e
def test_dvc_repro_gives_the_same_hashes_as_lbb_repro_and_a_sound_store(built, tmp_path):
    """The tiny pipeline built in parallel (the session's ``built``, by ``lbb repro
    --workers 2``) records in dvc.lock the outputs of a serial `dvc repro` of the same
    code (its stages started warm: bloodbank.core.warmstart), and every stage has its
    MLflow run in a store written by parallel stages."""
    (repo, _), _ = built
    serial = make_repo(tmp_path / "serial", tiny_params())
    run(["dvc", "repro"], serial, env={**os.environ, "LBB_WARM_STAGES": "1"})  # warm stages
    assert "up to date" in run(["dvc", "status"], repo).stdout

    def outs(root: Path) -> dict[str, str]:
        lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
        return {o["path"]: o.get("md5") for s in lock.values() for o in s.get("outs", [])}

    assert outs(repo) == outs(serial)
    entries = [yaml.safe_load((r / "dvc.lock").read_text())["stages"] for r in (repo, serial)]
    assert entries[0] == entries[1]  # lock entries written in batches: the same entries
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
    # the stages that only move data log no run of their own
    assert (
        expected - {"settings", "tokenize", "token_index", "packs", "sample_pretrain", "task_data"}
        <= stages
    )


def long_mono(repo: Path) -> Path:
    """Make mono@qab a training of about 450 steps with a checkpoint every 10; return
    the resumable checkpoint's path. Long enough that a signal sent after the first
    checkpoint arrives before the end even on a fast machine (150 steps once did not)."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(epochs=24)
    params["runtime"].update(checkpoint_every=10)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run(["dvc", "repro", "--single-item", "settings"], repo)  # as a repro runs it first
    return repo / "models/.resume/mono-qab/checkpoint.pt"


def start_lbb(repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*LBB, "repro", "--workers", "2", *args],
        cwd=repo,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared: {proc.poll()}"


def pids(repo: Path, stage: str) -> tuple[int, int]:
    """The Ray worker running ``stage`` and the stage's own process."""
    worker, child = (repo / ".dvc/tmp/lbb" / f"{stage}.pid").read_text().split()
    return int(worker), int(child)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_lost_worker_is_retried_and_the_training_resumes(built_copy):
    repo = built_copy
    ckpt = long_mono(repo)
    proc = start_lbb(repo, "mono@qab")
    wait_for(ckpt, proc)
    worker, child = pids(repo, "mono@qab")
    os.kill(worker, signal.SIGKILL)  # the worker dies mid-training, as on a lost node
    assert gone(child)  # the stage dies with it: never two runs of one stage at once
    _, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    assert pids(repo, "mono@qab")[0] != worker  # Ray ran it again, on another worker
    timing = json.loads((repo / "logs/timings/mono/qab.json").read_text())
    assert timing["resumed_from_step"] >= 10 and not ckpt.exists()
    assert "up to date" in run(["dvc", "status", "mono@qab"], repo).stdout


@pytest.mark.slow
@pytest.mark.e2e
def test_ctrl_c_stops_the_stages_and_records_none_of_them(built_copy):
    repo = built_copy
    ckpt = long_mono(repo)
    lock = (repo / "dvc.lock").read_bytes()
    proc = start_lbb(repo, "mono@qab")
    wait_for(ckpt, proc)
    worker, child = pids(repo, "mono@qab")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole job
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    assert gone(worker) and gone(child)
    assert (repo / "dvc.lock").read_bytes() == lock  # nothing half-recorded
    assert not (repo / "models/mono/qab/model.safetensors").exists()
    assert "mono@qab" in run(["dvc", "status", "mono@qab"], repo).stdout  # still stale

    again = start_lbb(repo, "mono@qab")
    out, err = again.communicate(timeout=400)
    assert again.returncode == 0, err
    assert "ran 1 stages" in out  # its upstream was up to date all along
    timing = json.loads((repo / "logs/timings/mono/qab.json").read_text())
    assert timing["resumed_from_step"] >= 10


def _statuses(store: Path) -> list[str]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as db:
        try:
            return [row[0] for row in db.execute("select status from runs")]
        except sqlite3.OperationalError:  # the store is being created
            return []


@pytest.mark.slow
@pytest.mark.e2e
def test_ctrl_c_in_lbb_repro_ends_the_running_stage_s_run_as_killed(tmp_path):
    repo = tmp_path / "toy"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    (repo / "stage.py").write_text(textwrap.dedent(STAGE))  # a stage run that sleeps 60 s
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    spec = {"stages": {"s": {"cmd": "python -P stage.py", "deps": ["stage.py"], "outs": ["s.txt"]}}}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.Popen(
        [*LBB, "repro", "--workers", "1"],
        cwd=repo,
        env=clean_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert until(lambda: "RUNNING" in _statuses(repo / "mlflow.db"), 120), "never started"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert "stopped s (their MLflow runs end as KILLED)" in proc.stderr.read()
    finally:
        proc.kill()
    # the stage's watchdog stops it with SIGTERM once its Ray worker is gone
    assert until(lambda: _statuses(repo / "mlflow.db") == ["KILLED"], 30), _statuses(
        repo / "mlflow.db"
    )


def test_lock_entries_are_written_in_batches_in_the_order_stages_finished():
    from types import SimpleNamespace

    from bloodbank.parallel.execute import LockWriter

    writes = []

    def dvcfile(path):
        return SimpleNamespace(
            path=path, dump_stages=lambda stages, **kw: writes.append((path, list(stages), kw))
        )

    main, downstream = dvcfile("dvc.yaml"), dvcfile("downstream/dvc.yaml")
    stages = [
        SimpleNamespace(name=f"s{i}", dvcfile=d) for i, d in enumerate([main, downstream, main])
    ]
    lock = LockWriter(every=3600)  # nothing is due: every entry waits for the flush
    for stage in stages:
        lock.add(stage)
    assert writes == []
    lock.flush()
    assert [(p, [s.name for s in ss]) for p, ss, _ in writes] == [
        ("dvc.yaml", ["s0", "s2"]),
        ("downstream/dvc.yaml", ["s1"]),
    ]
    assert all(kw == {"update_pipeline": False} for _, _, kw in writes)
    lock.flush()  # nothing pending: nothing written
    assert len(writes) == 2 and lock.writes == 1
    eager = LockWriter(every=0, ratio=0)  # always due: one write per stage, as dvc repro
    eager.add(stages[0])
    assert len(writes) == 3
