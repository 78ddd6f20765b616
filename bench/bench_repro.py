"""`lbb repro --workers N` against `dvc repro` on the embedded default, from a clean state.

Both sides start from a fresh clone of this repository's committed code with empty data,
models and DVC cache, and `train.threads` set to 1 (so that two stages can share the
two cores). The script prints both wall times, their ratio, and whether the outputs
recorded in dvc.lock are identical (timings excepted). Run it alone: a benchmark beside
another job measures the other job.

    python bench/bench_repro.py              # about 20 minutes on 2 cores
    python bench/bench_repro.py --workers 4
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
    return {
        o["path"]: o.get("md5", "")
        for s in lock.values()
        for o in s.get("outs", [])
        if not o["path"].startswith("metrics/timings/")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="Ray CPUs (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="train.threads (default: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial = clone(Path(tmp) / "serial", args.threads)
        parallel = clone(Path(tmp) / "parallel", args.threads)
        t_serial = timed(["dvc", "repro"], serial)
        t_parallel = timed(
            [sys.executable, "-m", "bloodbank.cli", "repro", "--workers", str(args.workers)],
            parallel,
        )
        same = outputs(serial) == outputs(parallel)
    print(f"embedded default, train.threads {args.threads}, {os.cpu_count()} cores")
    print(f"dvc repro                      {t_serial:7.1f} s")
    print(f"lbb repro --workers {args.workers:<2}         {t_parallel:7.1f} s")
    print(f"ratio                          {t_serial / t_parallel:7.2f}x")
    print(f"outputs in dvc.lock identical: {same}")


if __name__ == "__main__":
    main()
