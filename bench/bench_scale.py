"""What planning and DVC's bookkeeping cost at hundreds of languages, with no training.

Builds, in a temporary git + DVC repository, the transfer-graph pipeline of the real
shape (this checkout's dvc.yaml, code and params) for N real Wikipedia editions, with a
balanced plan of k pairs per language. Only the stage commands are replaced: each writes
its outputs as a few bytes, so what is measured is the project's and DVC's own work:

- plan: `lbb pairs` (the params load, every code checked, the plan built);
- dry run: `lbb repro --dry-run` (DVC's index and graph, and every stage's staleness);
- commit: every output written by the stand-in commands, then `dvc commit -f` (hashing
  every stage, writing the whole dvc.lock), which a real run spreads over its stages;
- status: `dvc status` with everything up to date;
- bookkeeping: `lbb repro -f` of every stage, per stage (its wall time over the stages:
  DVC's hashing, cache and lock work in the driver, Ray's scheduling; the commands take
  milliseconds); and, beside it, what `dvc repro` adds to each stage with the full lock
  (`dvc repro -f -s` of four stages against one), which writes the whole lock each time;
- estimate and next-pairs: the estimate stage's `complete` (covariates included: the
  editions' typology, monolingual MRR and two proxies) and `lbb next-pairs`' choice on a
  simulated N × N matrix with the real one's structure (``graph.simulate``) of which k
  cells per row are measured, in a child process whose peak memory is read.

Run it alone (2 cores are easily disturbed):

    python bench/bench_scale.py                  # 100 and 300 languages, k = 10
    python bench/bench_scale.py --sizes 50 --k 8 --keep
    python bench/bench_scale.py --sizes 300 --skip-runs   # all but the bookkeeping
    python bench/bench_scale.py --sizes 50,100,200,300 --figure docs/img/scale.png
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"plan": 60.0, "status": 60.0, "bookkeeping": 1.0, "estimate": 300.0, "memory": 4.0}


def editions(n: int) -> list[str]:
    """n real editions, open ones, in a fixed order (the registry's sorted codes)."""
    from bloodbank.core.editions import editions as all_editions

    found = [c for c, e in sorted(all_editions().items()) if not e.closed]
    if n > len(found):
        sys.exit(f"only {len(found)} open editions: ask for at most that many")
    step = len(found) / n
    return [found[int(i * step)] for i in range(n)]


def stand_in(outs: list, needed: dict[str, list[str]]) -> str:
    """A shell command that writes every output of a stage as a few bytes; a folder that
    other stages depend on files of (``needed``) gets those files."""
    parts = []
    for out in outs:
        path = next(iter(out)) if isinstance(out, dict) else out
        if needed.get(path):
            files = " ".join(needed[path])
            parts.append(f"mkdir -p {path} && for f in {files}; do echo $f > $f; done")
        elif Path(path).suffix:
            parts.append(f"mkdir -p $(dirname {path}) && echo {path} > {path}")
        else:
            parts.append(f"mkdir -p {path} && echo {path} > {path}/part")
    return " && ".join(parts)


def pipeline(codes: list[str]) -> dict:
    """This checkout's dvc.yaml with every command replaced by its stand-in."""
    doc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    bodies = [stage.get("do", stage) for stage in doc["stages"].values()]
    deps = {d.replace("${item}", c) for body in bodies for d in body.get("deps", []) for c in codes}
    outs = [body.get("outs", []) + body.get("metrics", []) for body in bodies]
    folders = {next(iter(o)) if isinstance(o, dict) else o for entries in outs for o in entries}
    needed = {f: sorted(d for d in deps if d.startswith(f"{f}/")) for f in folders}
    for body, entries in zip(bodies, outs, strict=True):
        body["cmd"] = stand_in(entries, needed)
    doc.pop("plots", None)
    return doc


def make_repo(work: Path, codes: list[str], k: int) -> Path:
    from bloodbank.core.config import Params, load_params
    from bloodbank.core.overlays import render

    repo = work / "repo"
    repo.mkdir()
    for item in ("src", "stages"):
        shutil.copytree(ROOT / item, repo / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline(codes), sort_keys=False))
    params = load_params(ROOT / "params.yaml").model_dump()
    n = len(codes)
    params |= {"languages": codes, "studied": codes, "synthetic": params["synthetic"]}
    params["pairs"] |= {"design": "balanced", "fraction": k / (n - 1), "matched_diagonal": False}
    (repo / "params.yaml").write_text(render(Params.model_validate(params), []))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "bench@example.org"],
        ["git", "config", "user.name", "bench"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        subprocess.run(cmd, cwd=repo, check=True, capture_output=True)
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")
    return repo


def timed(cmd: list[str], repo: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=_env(repo))
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def _env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_ROOT", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo / "src"), env.get("PYTHONPATH")]))
    return env


def write_outputs(repo: Path) -> int:
    """Run every stand-in command (upstream first), outside DVC; the number of stages."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        stages = list(dvc.index.stages)
    for stage in stages:
        subprocess.run(stage.cmd, shell=True, cwd=repo, check=True, env=_env(repo))
    return len(stages)


def bookkeeping(repo: Path, codes: list[str]) -> float:
    """Seconds DVC adds to each stage of a run with the whole lock in place: one `dvc
    repro -f -s` of four stages against one of the first alone, over the three more (so
    DVC's start-up and index, paid once a run, are left out; the commands take ms)."""
    names = [f"dump@{codes[-1]}", f"mono@{codes[0]}", f"pair@{codes[1]}", "scores"]
    one, _ = timed(["dvc", "repro", "-f", "-s", names[0]], repo)
    four, _ = timed(["dvc", "repro", "-f", "-s", *names], repo)
    return (four - one) / (len(names) - 1)


ESTIMATE = """
import json, resource, sys, time
import numpy as np
import pandas as pd
from bloodbank.core.config import EstimateConfig
from bloodbank.graph.completion import complete
from bloodbank.graph.design import balanced
from bloodbank.graph.estimate import next_pairs
from bloodbank.graph.simulate import simulate

k, langs = int(sys.argv[1]), sys.argv[2].split(",")
n = len(langs)
world = simulate(n, 0, proxy_r2=(0.5, 0.5))  # the real matrix's structure, two proxies
names = dict(zip(world.truth.index, langs))
full = world.measured.rename(index=names, columns=names)
proxies = {
    label: p.rename(index=names, columns=names)
    for label, p in zip(("zeroshot_fit", "lexical_overlap"), world.proxies.values())
}
mono = world.mono.rename(index=names).to_dict()
index = {c: i for i, c in enumerate(langs)}
mask = np.eye(n, dtype=bool)
for s, t in balanced(langs, k, 0):
    mask[index[s], index[t]] = True
seen = full.where(mask)
start = time.perf_counter()  # the estimate stage's work: covariates (typology too) and fit
est = complete({"mono": seen}, EstimateConfig(), 0, mono, proxies=proxies).estimates["mono"]
estimate = time.perf_counter() - start
start = time.perf_counter()
next_pairs(est, 8, "types")
chosen = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"estimate": estimate, "next_pairs": chosen, "peak_gb": peak}))
"""


def estimate_cost(codes: list[str], k: int, limit: float) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", ESTIMATE, str(k), ",".join(codes)],
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return {"estimate": float("inf"), "next_pairs": float("inf"), "peak_gb": float("nan")}
    if proc.returncode != 0:
        sys.exit(f"the estimate at {len(codes)} languages failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(n: int, k: int, keep: bool, limit: float, runs: bool = True) -> dict:
    """Every figure at n languages; without ``runs``, not the two timed runs of every
    stage (bookkeeping: most of the time at 300 languages)."""
    codes = editions(n)
    work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
    try:
        repo = make_repo(work, codes, k)
        lbb = [sys.executable, "-m", "bloodbank.cli"]
        plan, shown = timed([*lbb, "pairs"], repo)
        dry, _ = timed([*lbb, "repro", "--dry-run"], repo)
        stages = write_outputs(repo)
        commit, _ = timed(["dvc", "commit", "-f", "-q"], repo)
        status, _ = timed(["dvc", "status", "-q"], repo)
        lock_lines = len((repo / "dvc.lock").read_text().splitlines())
        nan = float("nan")
        per_stage = bookkeeping(repo, codes) if runs else nan
        run = timed([*lbb, "repro", "-f", "--cold", "--workers", "2"], repo)[0] if runs else nan
        cost = estimate_cost(codes, k, limit)
    finally:
        if keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "languages": n,
        "pair_stages": n,
        "pairs": n * k,
        "stages": stages,
        "lock_lines": lock_lines,
        "plan": plan,
        "dry_run": dry,
        "commit": commit,
        "status": status,
        "bookkeeping": run / stages,
        "dvc_per_stage": per_stage,
        **cost,
        "shown": shown.strip(),
    }


def report(r: dict, limit: float) -> None:
    if r["estimate"] == float("inf"):  # stopped at the limit: say so, not "inf"
        print(f"       the estimate ran past --limit {limit:.0f} s and was stopped")
    print(
        f"scale: {r['languages']} languages, {r['pair_stages']} pair stages, "
        f"plan {r['plan']:.1f} s, status {r['status']:.1f} s, "
        f"bookkeeping {_seconds(r['bookkeeping'], 2)}/stage, estimate {r['estimate']:.1f} s, "
        f"next-pairs {r['next_pairs']:.1f} s, peak memory {r['peak_gb']:.2f} GB"
    )
    print(
        f"       {r['stages']} stages, {r['pairs']} pair trainings, dvc.lock {r['lock_lines']:,} "
        f"lines; dry run {r['dry_run']:.1f} s; first commit of every stage {r['commit']:.1f} s; "
        f"`dvc repro` adds {_seconds(r['dvc_per_stage'], 1)} to each stage at this lock size, "
        f"{r['dvc_per_stage'] / r['bookkeeping']:.1f}x lbb repro's"
    )
    met = {
        "plan and dry run <= 60 s": max(r["plan"], r["dry_run"]) <= GOALS["plan"],
        "status <= 60 s": r["status"] <= GOALS["status"],
        "estimate + next-pairs <= 5 min": r["estimate"] + r["next_pairs"] <= GOALS["estimate"],
    }
    if r["bookkeeping"] == r["bookkeeping"]:  # not NaN: measured (no --skip-runs)
        met["bookkeeping <= 1 s/stage"] = r["bookkeeping"] <= GOALS["bookkeeping"]
    if r["peak_gb"] == r["peak_gb"]:  # not NaN: the estimate finished
        met["peak <= 4 GB"] = r["peak_gb"] <= GOALS["memory"]
    print("       goals: " + "; ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))


def _seconds(value: float, digits: int) -> str:
    """Seconds as the report prints them; n/a where not measured (--skip-runs)."""
    return "n/a" if value != value else f"{value:.{digits}f} s"


COSTS = {  # key: label, panel (0: a whole pipeline, 1: a stage or a fit), linear cost's slope
    "plan": ("`lbb pairs`", 0, 1),
    "dry_run": ("`lbb repro --dry-run`", 0, 1),
    "status": ("`dvc status`", 0, 1),
    "commit": ("`dvc commit -f` of every stage", 0, 1),
    "bookkeeping": ("`lbb repro`, per stage", 1, 0),
    "dvc_per_stage": ("`dvc repro`, per stage", 1, 0),
    "estimate": ("estimate", 1, 1),
    "next_pairs": ("next-pairs (8)", 1, 1),
}


def cost_figure(rows: list[dict], path: Path, host: str) -> None:
    """Each cost against the number of languages on log-log axes, each with a dotted line
    through its first point of what a cost linear in the languages would be (flat for a
    cost per stage, since the stages grow linearly): a curve steeper than its line grows
    faster than the languages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sizes = [r["languages"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for key, (label, panel, slope) in COSTS.items():
        values = [r[key] for r in rows]
        if not all(0 < v < float("inf") for v in values):  # n/a (--skip-runs) or stopped
            continue
        (line,) = axes[panel].plot(sizes, values, marker="o", label=label)
        linear = [values[0] * (n / sizes[0]) ** slope for n in sizes]
        axes[panel].plot(sizes, linear, linestyle=":", color=line.get_color(), alpha=0.7)
    for ax, title in zip(axes, ("the whole pipeline", "one stage, one fit"), strict=True):
        ax.set(xscale="log", yscale="log", xlabel="languages", ylabel="seconds", title=title)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(
        f"What planning and DVC cost, k = {rows[0]['pairs'] // sizes[0]} pairs a "
        f"language (dotted: linear in the languages)\n{host}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"{path}: each cost against the number of languages")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = resource.getrlimit(resource.RLIMIT_AS)[0]
    limit = "" if memory == resource.RLIM_INFINITY else f", memory limit {memory / 2**30:.0f} GB"
    return f"{cpu}, {os.cpu_count()} cores{limit}, {date.today()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--sizes", default="100,300", help="numbers of languages (default: %(default)s)"
    )
    ap.add_argument("--k", type=int, default=10, help="pairs per language (default: %(default)s)")
    ap.add_argument("--limit", type=float, default=900, help="seconds the estimate may take")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    ap.add_argument(
        "--skip-runs",
        action="store_true",
        help="leave out the two timed runs of every stage (bookkeeping): about 15 of the "
        "30 minutes at 300 languages",
    )
    ap.add_argument(
        "--figure", type=Path, help="also draw each cost against the number of languages"
    )
    args = ap.parse_args()
    host = machine()
    print(f"machine: {host}")
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        rows.append(measure(n, args.k, args.keep, args.limit, not args.skip_runs))
        report(rows[-1], args.limit)
    if args.figure:
        cost_figure(rows, args.figure, host)


if __name__ == "__main__":
    main()
