"""Where a fresh `dvc repro` of the default spends its time, split by stage kind.

Clones this repository's HEAD into a temporary folder (outputs are not in git, so every
stage runs) and runs `dvc repro` there, timing each stage from DVC's own "Running stage"
lines. Every stage process records when it started, when its ``main`` began (after the
script's imports) and when it ended (``logs/timings/process/``, see
``bloodbank.core.stagekit``); the training stages also record their training loop's
seconds (``logs/timings/<stage>/``). So each stage's wall time splits into:

- DVC: before and after the stage's process (hashing, the lock, the cache);
- start-up: the interpreter and the script's imports, before ``main``;
- training: the training loop of mono, pair and pretrain stages;
- the rest of ``main``: lazy imports (torch, transformers, MLflow), evaluation,
  finetuning, reading and writing.

A stage started warm (``bloodbank.core.warmstart``, the default) is a child forked from
the stage server: its start-up is the fork, and the process that waits for it, which
DVC started, counts as DVC's time. ``LBB_WARM_STAGES=0 python bench/bench_time.py``
measures cold stages.

Run it alone: a second job on a 2-core machine distorts every figure.

    python bench/bench_time.py               # the committed default
    python bench/bench_time.py --use synthetic-letters   # another configuration
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RUNNING = re.compile(r"^Running stage '([^']+)':")
TRAINING = ("mono", "pair", "pretrain")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    flags = Path("/proc/cpuinfo").read_text()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{cpu}, {os.cpu_count()} cores, {isa}, {date.today()}"


def clone(work: Path, overlays: list[str]) -> Path:
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    if overlays:
        subprocess.run(
            [sys.executable, "-m", "bloodbank.cli", "config", "--use", *overlays],
            cwd=repo,
            check=True,
            env=_env(repo),
        )
    return repo


def _env(repo: Path) -> dict[str, str]:
    """The clone imports its own code, not the checkout this script came from."""
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo / "src"), env.get("PYTHONPATH")]))
    return env


def repro(repo: Path) -> tuple[dict[str, tuple[float, float]], float]:
    """``dvc repro`` in ``repo``: each stage's (start, end) as DVC announced them, and
    the total wall time."""
    begin = time.time()
    proc = subprocess.Popen(
        ["dvc", "repro"],
        cwd=repo,
        env=_env(repo),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    starts: list[tuple[str, float]] = []
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail, line][-40:]
        if found := RUNNING.match(line):
            starts.append((found.group(1), time.time()))
    end = time.time()
    if proc.wait() != 0:
        sys.exit("dvc repro failed:\n" + "".join(tail))
    spans = {
        name: (at, starts[i + 1][1] if i + 1 < len(starts) else end)
        for i, (name, at) in enumerate(starts)
    }
    return spans, end - begin


def training_seconds(repo: Path, kind: str, key: str) -> float:
    """The training loops' seconds of one stage: its own timing file, or, for a pair
    stage (``pair@qaa``), the files of each pair it trained (``qaa-qat.json``, …)."""
    folder = repo / "logs/timings" / kind
    files = [folder / f"{key}.json"] if kind != "pair" else sorted(folder.glob(f"{key}-*.json"))
    return sum(json.loads(f.read_text())["seconds"] for f in files if f.is_file())


def mono_pace(repo: Path) -> float:
    """The mono trainings' mean tokens per second: every machine trains the same bytes,
    so this says how fast the host ran, and runs on two hosts compare through it."""
    files = sorted((repo / "logs/timings/mono").glob("*.json"))
    paces = [json.loads(f.read_text())["tokens_per_second"] for f in files]
    return sum(paces) / len(paces) if paces else float("nan")


def split(repo: Path, spans: dict[str, tuple[float, float]]) -> pd.DataFrame:
    rows = []
    for name, (start, end) in spans.items():
        kind, _, key = name.partition("@")
        clock_file = repo / "logs/timings/process" / f"{name}.json"
        clock = json.loads(clock_file.read_text()) if clock_file.is_file() else None
        training = training_seconds(repo, kind, key) if kind in TRAINING else 0.0
        wall = end - start
        process = clock["ended"] - clock["started"] if clock else wall
        startup = clock["main"] - clock["started"] if clock else 0.0
        rows.append(
            {
                "kind": kind,
                "stages": 1,
                "wall": wall,
                "dvc": wall - process,
                "start-up": startup,
                "training": training,
                "rest of main": process - startup - training,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--use", nargs="*", default=[], help="configurations to compose")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-time-"))
    try:
        repo = clone(work, args.use)
        spans, total = repro(repo)
        table = split(repo, spans)
        pace = mono_pace(repo)
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
        ).stdout
    finally:
        if args.keep:
            print(f"clone kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    by_kind = table.groupby("kind", sort=False).sum(numeric_only=True)
    by_kind.loc["all stages"] = by_kind.sum()
    columns = ["wall", "dvc", "start-up", "training", "rest of main"]
    print(f"machine: {machine()}; configuration: {' '.join(args.use) or 'committed default'}")
    started = "cold" if os.environ.get("LBB_WARM_STAGES") == "0" else "warm"
    print(f"fresh-clone `dvc repro`: {total:.0f} s wall, {len(table)} stages, started {started}")
    print(by_kind[["stages", *columns]].round(1).to_string())
    shares = by_kind.loc["all stages", columns[1:]] / total
    print("share of the wall time: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    outside = total - by_kind.loc["all stages", "wall"]
    print(f"before the first stage (DVC's start, the plan): {outside:.1f} s")
    print(f"host pace: mono models trained {pace:,.0f} tokens/s (the same bytes on every host)")
    # what CI checks: the committed dvc.lock and outputs are what a fresh run produces
    print("git status after the run: " + ("clean" if not status else "CHANGED\n" + status))


if __name__ == "__main__":
    main()
