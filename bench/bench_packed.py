"""Packed training's throughput: K models of one shape trained as one, against K = 1.

On whichever device is present (or --device), packs of K = 1, 4, 16 and 64 models (or as
many as fit in memory) train for --steps steps on sentences of Wikipedia-like lengths
(log-normal, median about 27 tokens; each model its own sentences), each pack in a child
process of its own so that its peak memory is its own, --repeat times in turn (the
median is reported: a shared machine's speed drifts between runs). Every model has its
own seed, data order, masks and dropout, as in the pipeline (``train_pack``). Prints,
for each K, tokens per second, trainings per device-hour and the ratio to K = 1
measured in the same run, and the peak memory. Then projects the wall time on this
device, at the best K, of:

- the study's 22-language graph: 22 mono models and 462 pairs, 484 trainings;
- the 41-language all-pairs graph: 41 mono models and 1,640 pairs, 1,681 trainings;

where a training is the study's recipe: 3 epochs over 10M characters, about 2.5M tokens,
so 7.5M training tokens.

    python bench/bench_packed.py                        # the study's shape (GPU)
    python bench/bench_packed.py --shape default --ks 1,4,16   # CPU: params.yaml's model
    python bench/bench_packed.py --quick                # a few steps, for the device check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runs from a bare checkout (bench/device_check.sh)

STUDY_TRAINING_TOKENS = 7.5e6  # 3 epochs over ~2.5M tokens (10M characters)
GRAPHS = {"22-language graph (study)": 22 + 22 * 21, "41-language all-pairs graph": 41 + 41 * 40}
SPECIAL = 5  # [PAD] [UNK] [CLS] [SEP] [MASK]


def shapes() -> dict[str, dict]:
    """The model and batch of each shape: the study's (configs/paper.yaml's values) and
    the embedded default's (params.yaml's), written out so that no config loader (and
    none of its dependencies) is needed on a bare compute node."""
    return {
        "study": {
            "model": {
                "hidden_size": 512,
                "num_layers": 4,
                "num_heads": 4,
                "intermediate_size": 2048,
                "max_position_embeddings": 512,
            },
            "vocab": 100_000,
            "batch_size": 8,
        },
        "default": {
            "model": {
                "hidden_size": 128,
                "num_layers": 2,
                "num_heads": 2,
                "intermediate_size": 512,
                "max_position_embeddings": 128,
            },
            "vocab": 8_000,
            "batch_size": 32,
        },
    }


def corpus(n: int, vocab: int, seed: int):
    import numpy as np

    from bloodbank.data.token_ids import TokenizedSplit

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(27), 0.55, n).astype(int), 3, 200)
    ids = rng.integers(SPECIAL, vocab, lengths.sum()).astype(np.uint32)
    return TokenizedSplit(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def one_pack(k: int, args: argparse.Namespace) -> dict:
    """Train one pack of k for ``steps`` steps (after an untimed pack of ``warm`` steps):
    tokens a second over the whole timed pack, its set-up included."""
    import torch

    from bloodbank.core.config import ModelConfig, RuntimeConfig, TrainConfig
    from bloodbank.mlm.batching import SpecialIds
    from bloodbank.mlm.model import build_model
    from bloodbank.mlm.trainer import Member, pick_device, train_pack

    shape, steps, warm, device = args.shape, args.steps, args.warm, args.device
    spec = shapes()[shape]
    ids = SpecialIds(pad=0, cls=2, sep=3, mask=4, n_special=SPECIAL)
    model_cfg = ModelConfig(**spec["model"], dropout=0.1)
    cfg = TrainConfig(
        batch_size=spec["batch_size"],
        max_steps=steps,
        epochs=1000,
        lr=1e-4,
        threads=min(2, os.cpu_count() or 1),
        pack=k,
        pack_kernels=args.kernels,
        precision=args.precision,
    )
    runtime = RuntimeConfig(device=device, checkpoint_every=10**9)
    run = pick_device(device)
    models = [build_model(model_cfg, spec["vocab"], 0, seed) for seed in range(k)]
    rows = spec["batch_size"] * steps
    with tempfile.TemporaryDirectory() as tmp:
        members = [
            Member(corpus(rows, spec["vocab"], seed), seed, f"bench{seed}", Path(tmp) / str(seed))
            for seed in range(k)
        ]
        if warm:  # a short pack first: CUDA's start-up and kernel choices stay out of the time
            train_pack(
                [build_model(model_cfg, spec["vocab"], 0, seed) for seed in range(k)],
                members,
                cfg.model_copy(update={"max_steps": warm}),
                ids=ids,
                vocab_size=spec["vocab"],
                runtime=runtime,
            )
        _sync(run)
        began = time.perf_counter()
        results = train_pack(
            models, members, cfg, ids=ids, vocab_size=spec["vocab"], runtime=runtime
        )
        _sync(run)
        seconds = time.perf_counter() - began
    tokens = sum(r.tokens for r in results)
    if run.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"k": k, "tokens_per_second": tokens / seconds, "peak_gb": peak, "device": str(run)}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(k: int, args: argparse.Namespace) -> dict | None:
    """One pack in a child process; None when it ran out of memory (or failed)."""
    cmd = [
        sys.executable,
        __file__,
        "--one",
        str(k),
        "--shape",
        args.shape,
        "--steps",
        str(args.steps),
        "--warm",
        str(args.warm),
        "--device",
        args.device,
        "--precision",
        args.precision,
        "--kernels",
        args.kernels,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"K = {k}: did not run ({tail[0][:200]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def device_name(device: str) -> str:
    import torch

    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    flags = Path("/proc/cpuinfo").read_text()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{model} ({os.cpu_count()} cores, {isa})"


def report(rows: list[dict], args: argparse.Namespace) -> None:
    base = rows[0]["tokens_per_second"]
    print("| K | tokens/s | trainings per device-hour | x K=1 | peak memory |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        per_hour = r["tokens_per_second"] * 3600 / STUDY_TRAINING_TOKENS
        print(
            f"| {r['k']} | {r['tokens_per_second']:,.0f} | {per_hour:,.1f} | "
            f"{r['tokens_per_second'] / base:.2f} | {r['peak_gb']:.2f} GB |"
        )
    best = max(rows, key=lambda r: r["tokens_per_second"])
    per_hour = best["tokens_per_second"] * 3600 / STUDY_TRAINING_TOKENS
    print(f"\nprojected at K = {best['k']} ({per_hour:,.1f} trainings of 7.5M tokens an hour):")
    for name, trainings in GRAPHS.items():
        print(f"  {name}: {trainings:,} trainings, {trainings / per_hour:,.2f} device-hours")
    if args.shape != "study":
        print("  (at this shape, not the study's: --shape study projects the study's cost)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shape", choices=sorted(shapes()), default="study", help="model and batch")
    ap.add_argument("--ks", default="1,4,16,64", help="pack sizes (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=60, help="steps per pack (default: %(default)s)")
    ap.add_argument(
        "--warm", type=int, default=5, help="steps of an untimed pack first (default: %(default)s)"
    )
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument(
        "--kernels",
        default="auto",
        choices=["auto", "batched", "each"],
        help="train.pack_kernels: auto = batched on CUDA, one member after another on a CPU",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each K, in turn (median)")
    ap.add_argument("--quick", action="store_true", help="12 steps, 2 warm-up steps, 1 run")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.quick:
        args.steps, args.warm, args.repeat = 12, 2, 1
    if args.one:
        print(json.dumps(one_pack(args.one, args)))
        return
    print(f"device: {device_name(args.device)}, {args.precision}, {date.today()}")
    print(f"packs: {args.kernels} kernels (train.pack_kernels)")
    print(f"shape: {args.shape} {shapes()[args.shape]}, {args.steps} steps a training")
    runs: dict[int, list[dict]] = {}
    for r in range(args.repeat):
        for k in (int(x) for x in args.ks.split(",")):
            if r and k not in runs:
                continue  # did not fit the first time
            found = measure(k, args)
            if found is None:
                break
            runs.setdefault(k, []).append(found)
            print(f"run {r + 1}, K = {k}: {found['tokens_per_second']:,.0f} tokens/s", flush=True)
    rows = [_median(found) for found in runs.values()]
    if rows:
        report(rows, args)


def _median(found: list[dict]) -> dict:
    """A pack's median run by throughput (its peak memory is the largest seen)."""
    ranked = sorted(found, key=lambda r: r["tokens_per_second"])
    return {**ranked[len(ranked) // 2], "peak_gb": max(r["peak_gb"] for r in found)}


if __name__ == "__main__":
    main()
