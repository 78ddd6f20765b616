"""The device check's Python half (bench/device_check.sh runs it): packed training on
this device, equal to lone training, deterministic, and how fast.

Imports only the training code (``bloodbank.mlm``, ``bloodbank.core.config``), torch,
transformers and pydantic: no DVC, MLflow or Ray, so that it runs on a compute node
from a checkout. Prints one line per check and exits non-zero when one fails:

1. equivalence: three toy models of unequal data trained in a pack, member by member
   and batched (vmap), against each trained alone on this device: member by member
   bitwise, batched within the tolerance tests/test_packed.py states;
2. determinism: the same batched pack trained twice: identical bytes;
3. throughput: bench/bench_packed.py (the study's shape on a GPU, the default's on a CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from bloodbank.core.config import ModelConfig, RuntimeConfig, TrainConfig  # noqa: E402
from bloodbank.data.token_ids import TokenizedSplit  # noqa: E402
from bloodbank.mlm.batching import SpecialIds  # noqa: E402
from bloodbank.mlm.model import build_model  # noqa: E402
from bloodbank.mlm.trainer import Member, train_mlm, train_pack  # noqa: E402

IDS = SpecialIds(pad=0, cls=2, sep=3, mask=4, n_special=5)
VOCAB = 300
MODEL = ModelConfig(
    hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_position_embeddings=64
)
TRAIN = TrainConfig(batch_size=8, epochs=3, lr=1e-3, threads=2, max_length=48, pack=3)
SIZES = (80, 56, 64)
WEIGHT_TOLERANCE = 1e-5  # tests/test_packed.py's, for the batched pack against lone runs


def split(n: int, seed: int) -> TokenizedSplit:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 40, n)
    starts = rng.integers(5, VOCAB, n)
    ids = np.concatenate(
        [(s + np.arange(k)) % (VOCAB - 5) + 5 for s, k in zip(starts, lengths, strict=True)]
    ).astype(np.uint32)
    return TokenizedSplit(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def members(root: Path) -> list[Member]:
    return [Member(split(n, k), k, f"check{k}", root / f"r{k}") for k, n in enumerate(SIZES)]


def weights(model) -> dict[str, torch.Tensor]:
    return {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}


def digest(model) -> str:
    h = hashlib.sha256()
    for name, t in sorted(weights(model).items()):
        h.update(name.encode())
        h.update(t.contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def trained_alone(device: str, root: Path) -> list:
    models = []
    for k, m in enumerate(members(root)):
        model = build_model(MODEL, VOCAB, 0, k)
        train_mlm(
            model, m.split, TRAIN, ids=IDS, vocab_size=VOCAB, seed=m.seed, key=m.key,
            resume_dir=m.resume_dir, runtime=RuntimeConfig(device=device),
        )  # fmt: skip
        models.append(model)
    return models


def trained_packed(device: str, root: Path, kernels: str) -> list:
    models = [build_model(MODEL, VOCAB, 0, k) for k in range(len(SIZES))]
    cfg = TRAIN.model_copy(update={"pack_kernels": kernels})
    runtime = RuntimeConfig(device=device)
    train_pack(models, members(root), cfg, ids=IDS, vocab_size=VOCAB, runtime=runtime)
    return models


def largest_difference(a, b) -> float:
    wa, wb = weights(a), weights(b)
    return max((wa[n] - wb[n]).abs().max().item() for n in wa)


def check(name: str, ok: bool, detail: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda"], required=True)
    ap.add_argument("--bench", nargs=argparse.REMAINDER, default=[], help="bench_packed's flags")
    args = ap.parse_args()
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(f"device check on {where}: torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lone = trained_alone(args.device, root / "alone")
        each = trained_packed(args.device, root / "each", "each")
        batched = trained_packed(args.device, root / "batched", "batched")
        again = trained_packed(args.device, root / "again", "batched")
    each_diff = max(largest_difference(a, b) for a, b in zip(each, lone, strict=True))
    batched_diff = max(largest_difference(a, b) for a, b in zip(batched, lone, strict=True))
    results = [
        check("pack member by member = alone", each_diff == 0.0, f"largest |dw| {each_diff:.1e}"),
        check(
            "batched pack ~ alone",
            batched_diff <= WEIGHT_TOLERANCE,
            f"largest |dw| {batched_diff:.1e} (tolerance {WEIGHT_TOLERANCE:.0e})",
        ),
        check(
            "two batched runs, identical bytes",
            [digest(m) for m in batched] == [digest(m) for m in again],
            " ".join(digest(m) for m in batched),
        ),
    ]
    print(f"checks took {time.perf_counter() - start:.0f} s", flush=True)
    bench = [sys.executable, str(HERE / "bench_packed.py"), "--device", args.device, *args.bench]
    results.append(check("bench_packed", subprocess.run(bench).returncode == 0, " ".join(bench)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
