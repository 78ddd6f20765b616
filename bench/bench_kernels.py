"""What pinning the CPU kernels costs: training and evaluation, pinned against native.

Every stage runs PyTorch and oneDNN with their AVX2 kernels and MKL on its COMPATIBLE
reproducibility branch (bloodbank.core.offline), so that one commit gives the same bytes
on every x86-64 CPU, Intel or AMD. That gives up the wider kernels of an AVX-512 CPU and
MKL's tuned matrix products on any CPU. This script measures
that: the same training steps and the same evaluation, each in a fresh process (the caps
are read when the libraries load), pinned (the default) and with LBB_CPU_KERNELS=native,
alternating, `--reps` times, and prints the median tokens per second of each and the
ratio. It also says which kernels each side ran. Run it alone.

    python bench/bench_kernels.py                 # the default's model, about 2 minutes
    python bench/bench_kernels.py --model paper   # the study's BERT (hidden 512, 4 layers)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from bloodbank.core.offline import PINNED_KERNELS  # imports nothing heavy

ROOT = Path(__file__).resolve().parents[1]


def child(model_name: str, steps: int) -> dict:
    """One measurement in this process: the stage environment first, then torch."""
    from bloodbank.core.offline import offline_environment

    offline_environment()
    import numpy as np
    import torch

    from bloodbank.core.config import Params, RuntimeConfig
    from bloodbank.core.overlays import compose
    from bloodbank.data.token_ids import TokenizedSplit
    from bloodbank.mlm.batching import SpecialIds
    from bloodbank.mlm.evaluation import evaluate, fixed_masks
    from bloodbank.mlm.model import build_model
    from bloodbank.mlm.trainer import train_mlm

    params = compose(["paper"], ROOT / "configs") if model_name == "paper" else Params()
    vocab, ids = params.tokenizer.vocab_size, SpecialIds(0, 2, 3, 4, 5)
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(3.3, 0.55, 4096).astype(int), 3, 126)
    tokens = rng.integers(ids.n_special, vocab, lengths.sum()).astype(np.uint32)
    split = TokenizedSplit(tokens, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    train = params.train.model_copy(update={"max_steps": steps})
    model = build_model(params.model, vocab, ids.pad, seed=0)
    runtime = RuntimeConfig(device="cpu", log_every=10**9, checkpoint_every=10**9)
    resume = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-kernels-{os.getpid()}"
    result = train_mlm(
        model,
        split,
        train,
        ids=ids,
        vocab_size=vocab,
        seed=0,
        key="bench",
        resume_dir=resume,
        runtime=runtime,
        desc="train",
    )
    model.eval()
    batches = list(
        fixed_masks(
            split,
            train.max_length,
            ids,
            vocab_size=vocab,
            batch_size=params.eval.batch_size,
            seed=0,
            language="bench",
            max_tokens=params.eval.max_tokens,
        )
    )
    start = time.perf_counter()
    scored = evaluate(model, batches, len(split), device=torch.device("cpu"), bootstrap=0, seed=0)
    seconds = time.perf_counter() - start
    return {
        "kernels": torch.backends.cpu.get_cpu_capability(),
        "train_tokens_per_second": result.tokens / result.seconds,
        "eval_tokens_per_second": scored.masked_tokens / seconds,
        "mrr": scored.mrr,
    }


def measure(native: bool, model: str, steps: int) -> dict:
    env = dict(os.environ)
    for key in PINNED_KERNELS:
        env.pop(key, None)
    env["LBB_CPU_KERNELS"] = "native" if native else "avx2"
    cmd = [sys.executable, __file__, "--child", "--model", model, "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["default", "paper"], default="default")
    parser.add_argument("--steps", type=int, default=60, help="training steps per run")
    parser.add_argument("--reps", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.steps)))
        return
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for rep in range(args.reps):
        for native in (False, True) if rep % 2 == 0 else (True, False):
            runs[native].append(measure(native, args.model, args.steps))
            print(f"  rep {rep} {'native' if native else 'avx2  '} done", flush=True)
    host = platform.processor() or platform.machine()
    print(f"\nhost: {host}, {os.cpu_count()} cores, {date.today()}; model: {args.model}")
    print(f"{'':22}{'pinned (default)':>18}{'native':>12}{'native/pinned':>15}")
    print(f"{'kernels':22}{runs[False][0]['kernels']:>18}{runs[True][0]['kernels']:>12}")
    for key, label in (("train", "training tokens/s"), ("eval", "evaluation tokens/s")):
        pinned = statistics.median(r[f"{key}_tokens_per_second"] for r in runs[False])
        native = statistics.median(r[f"{key}_tokens_per_second"] for r in runs[True])
        print(f"{label:22}{pinned:18,.0f}{native:12,.0f}{native / pinned:14.2f}x")
    pinned_mrr, native_mrr = runs[False][0]["mrr"], runs[True][0]["mrr"]
    print(f"MRR pinned {pinned_mrr:.10f}, native {native_mrr:.10f}", end="")
    print(
        " (the same)"
        if pinned_mrr == native_mrr
        else " (differs in the last digits: other kernels)"
    )


if __name__ == "__main__":
    main()
