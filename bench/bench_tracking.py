"""What MLflow tracking costs each stage process: tracking on against tracking off.

Runs a representative stage of each kind (data, tokenizer, training, scores, graph,
downstream) as its own process, exactly as `dvc repro` starts it, in a copy of this
repository with its outputs (run `dvc repro` here first). Each stage runs with
`runtime.tracking.enabled` true and false, alternately, `--reps` times, and the script
prints the median seconds of each and what tracking adds per stage; the last line
extrapolates that to the default pipeline's stage count. Run it alone: a benchmark
beside another job measures the other job.

    python bench/bench_tracking.py            # about 4 minutes on 2 cores
    python bench/bench_tracking.py --reps 3 --stages mono@qaa,scores
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = [
    "dump@qaa",
    "sample@qaa",
    "stats@qaa",
    "tokenizer",
    "mono@qaa",
    "pair@qaa",
    "scores",
    "graph",
    "select",
    "finetune@most-pos",
    "tables",
]
OUTPUTS = ["data", "models", "metrics", "reports"]


def copy_repo(dest: Path) -> Path:
    """A clone of the committed code with this checkout's outputs beside it."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    for name in OUTPUTS:
        if (ROOT / name).exists():
            shutil.rmtree(dest / name, ignore_errors=True)
            shutil.copytree(ROOT / name, dest / name, symlinks=True)
    return dest


def set_tracking(repo: Path, enabled: bool) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    section = params if "tracking" in params else params.setdefault("runtime", {})
    section.setdefault("tracking", {})["enabled"] = enabled
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def stage_command(repo: Path, stage: str) -> list[str]:
    name = stage.split("@")[0]
    return [sys.executable, "-P", str(repo / "stages" / f"{name}.py")]


def run_stage(repo: Path, stage: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}
    env["DVC_STAGE"] = stage
    start = time.perf_counter()
    proc = subprocess.run(stage_command(repo, stage), cwd=repo, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{stage} failed:\n{proc.stderr.decode()[-2000:]}")
    return seconds


def measure(repo: Path, stages: list[str], reps: int) -> dict[str, dict[bool, list[float]]]:
    times: dict[str, dict[bool, list[float]]] = {s: {True: [], False: []} for s in stages}
    for rep in range(reps):
        for enabled in (True, False) if rep % 2 == 0 else (False, True):
            set_tracking(repo, enabled)
            for stage in stages:
                times[stage][enabled].append(run_stage(repo, stage))
                print(f"  rep {rep} tracking {'on ' if enabled else 'off'} {stage}", flush=True)
    return times


def stage_count() -> int:
    listed = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True
    )
    return len(listed.stdout.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="runs of each stage each way")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages, comma-separated")
    args = parser.parse_args()
    if not (ROOT / "models" / "mono").exists():
        sys.exit("run `dvc repro` in this checkout first: the stages read its outputs")
    stages = [s for s in args.stages.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        times = measure(copy_repo(Path(tmp) / "repo"), stages, args.reps)
    host = platform.processor() or platform.machine()
    print(f"\nhost: {host}, {os.cpu_count()} cores, {date.today()}")
    print(f"{'stage':22}{'tracking on':>13}{'off':>8}{'added':>8}")
    added = []
    for stage in stages:
        on, off = statistics.median(times[stage][True]), statistics.median(times[stage][False])
        added.append(on - off)
        print(f"{stage:22}{on:12.2f}s{off:7.2f}s{on - off:7.2f}s")
    n = stage_count()
    mean = statistics.mean(added)
    print(
        f"tracking adds {mean:.2f} s per stage on average: about {mean * n:.0f} s over {n} stages"
    )


if __name__ == "__main__":
    main()
