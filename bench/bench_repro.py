"""`lbb repro --workers N` against `dvc repro` on the embedded default, from a clean state.

Three runs, each from a fresh clone of this repository's committed code with empty data,
models and DVC cache, and `train.threads` set to 1 (so that two stages can share the
two cores): `dvc repro`; `lbb repro --cold`, where every stage starts a fresh
interpreter as under DVC; and `lbb repro`, where python stages are forked from a worker
that has torch, transformers and MLflow imported. The script prints the wall times,
their ratios to `dvc repro`, and whether the outputs recorded in dvc.lock are identical
(timings are no outputs). Run it alone: a benchmark beside another job measures the other job.

    python bench/bench_repro.py              # about 20 minutes on 2 cores
    python bench/bench_repro.py --workers 4 --no-cold
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def clone(dest: Path, threads: int) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["train"]["threads"] = threads
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def timed(cmd: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def outputs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {o["path"]: o.get("md5", "") for s in lock.values() for o in s.get("outs", [])}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="Ray CPUs (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="train.threads (default: 1)")
    parser.add_argument("--no-cold", action="store_true", help="skip the `lbb repro --cold` run")
    args = parser.parse_args()
    lbb = [sys.executable, "-m", "bloodbank.cli", "repro", "--workers", str(args.workers)]
    runs = {"dvc repro": ["dvc", "repro"]}
    if not args.no_cold:
        runs[f"lbb repro --workers {args.workers} --cold"] = [*lbb, "--cold"]
    runs[f"lbb repro --workers {args.workers}"] = lbb
    seconds, outs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, cmd) in enumerate(runs.items()):
            repo = clone(Path(tmp) / str(i), args.threads)
            seconds[name] = timed(cmd, repo)
            outs[name] = outputs(repo)
    print(f"embedded default, train.threads {args.threads}, {os.cpu_count()} cores, {cpu()}")
    base = seconds["dvc repro"]
    base_outs = outs["dvc repro"]
    for name, value in seconds.items():
        print(f"{name:32} {value:7.1f} s  {base / value:5.2f}x")
    same = all(o == outs["dvc repro"] for o in outs.values())
    print(f"outputs in dvc.lock identical: {same}")
    for name, found in outs.items():
        differ = sorted(
            k for k in found.keys() | base_outs.keys() if found.get(k) != base_outs.get(k)
        )
        if differ:
            print(f"  {name} differs from dvc repro in: {', '.join(differ)}")


def cpu() -> str:
    """The CPU model and whether it has AVX512-BF16: figures depend on the machine."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((x.split(":", 1)[1].strip() for x in info.splitlines() if "model name" in x), "?")
    return f"{model}, {'AVX512-BF16' if 'avx512_bf16' in info else 'no AVX512-BF16'}"


if __name__ == "__main__":
    main()
