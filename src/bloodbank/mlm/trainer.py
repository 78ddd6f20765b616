"""The masked-LM training loop: fast, resumable, and a pure function of its seed.

Every source of randomness at step ``k`` (batch order, masks, dropout) is
derived from ``(seed, run key, k)``, so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run takes and ends with the same weights.
Resumable checkpoints are written every ``runtime.checkpoint_every`` steps to a folder
outside the stage's outputs and removed when the run completes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from bloodbank.core.config import RuntimeConfig, TrainConfig
from bloodbank.core.io import atomic_path
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.batching import SpecialIds, collate, epoch_batches
from bloodbank.mlm.masking import generator, mask_tokens
from bloodbank.mlm.memory import large_buffers
from bloodbank.mlm.model import masked_lm_loss

CHECKPOINT = "checkpoint.pt"
RUNTIME = RuntimeConfig()
Probe = tuple[frozenset[int], Callable[[int], None]]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls run in hardware here (else autocast would only emulate them)."""
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch < 2.4 has no emulation flag
            return torch.cuda.is_bf16_supported()
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private: may vanish
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def use_bf16(precision: str, device: torch.device) -> bool:
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


@dataclass
class TrainResult:
    steps: int
    tokens: int
    seconds: float
    tokens_per_second: float
    final_loss: float
    resumed_from_step: int
    threads: int
    device: str
    precision: str

    def as_dict(self) -> dict:
        """What the run computed: the same on every rerun of the same commit and machine."""
        return {k: v for k, v in asdict(self).items() if k not in TIMING_FIELDS}

    def timing(self) -> dict:
        """How long it took: varies run to run, so kept out of files other stages read."""
        return {k: getattr(self, k) for k in TIMING_FIELDS}


TIMING_FIELDS = ("seconds", "tokens_per_second", "resumed_from_step")


def _optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """transformers.Trainer's AdamW: no weight decay on biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, eps=cfg.adam_epsilon, fused=True)


def _sparse_input_embedding(model: torch.nn.Module) -> None:
    """Let the input embedding send a sparse gradient into the tied output matrix.

    The output layer's gradient is dense anyway; the lookup's sparse rows are then
    added in place instead of through a zero-filled vocabulary-sized buffer. Only
    done when the two are tied, so the optimizer always sees a dense gradient.
    """
    emb = model.get_input_embeddings()
    out = model.get_output_embeddings()
    if out is not None and out.weight is emb.weight:
        emb.sparse = True


def total_steps(n_sentences: int, cfg: TrainConfig) -> int:
    per_epoch = math.ceil(n_sentences / cfg.batch_size)
    steps = math.ceil(per_epoch * cfg.epochs)
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def starting_point(model) -> str:
    """A digest of the weights and architecture training starts from.

    Part of the resume fingerprint: a pair stage killed mid-training must not resume
    from its old state after the source model was retrained (other data, another
    dropout), which the recipe, seed and key alone cannot tell.
    """
    config = {k: v for k, v in model.config.to_dict().items() if k != "transformers_version"}
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _fingerprint(cfg: TrainConfig, seed: int, key: str, n_sentences: int, start: str) -> str:
    return json.dumps(
        {"train": cfg.model_dump(), "seed": seed, "key": key, "n": n_sentences, "start": start},
        sort_keys=True,
    )


def _load_checkpoint(resume_dir: Path, fingerprint: str, model, opt, sched) -> tuple[int, dict]:
    path = resume_dir / CHECKPOINT
    if not path.exists():
        return 0, {}
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        print(f"{path}: made with other settings; starting afresh")
        return 0, {}
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return state["step"], state["totals"]


def _save_checkpoint(
    resume_dir: Path, fingerprint: str, step: int, totals: dict, model, opt, sched
) -> None:
    with atomic_path(resume_dir / CHECKPOINT) as tmp:
        torch.save(
            {
                "fingerprint": fingerprint,
                "step": step,
                "totals": totals,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
            },
            tmp,
        )


def train_mlm(
    model,
    split: TokenizedSplit,
    cfg: TrainConfig,
    *,
    ids: SpecialIds,
    vocab_size: int,
    seed: int,
    key: str,
    resume_dir: Path,
    runtime: RuntimeConfig = RUNTIME,
    log: Callable[[dict, int], None] = lambda metrics, step: None,
    desc: str = "train",
    probe: Probe | None = None,
    keep_final: bool = False,
) -> TrainResult:
    """Train ``model`` in place on ``split`` with the recipe in ``cfg``.

    ``runtime`` says where it trains and how often it logs and checkpoints; none of that
    changes the weights. ``probe`` (steps, callback) calls the callback with the step
    number after those steps, model in eval mode: a held-out learning curve that leaves
    training as it is. ``keep_final`` leaves the finished state in ``resume_dir`` (a rerun
    then loads it instead of training): for a caller that trains several models before it
    writes any.
    """
    run = _Run(ids, vocab_size, seed, key, resume_dir, runtime, log, desc, probe, keep_final)
    with large_buffers(pick_device(runtime.device).type == "cpu"):
        return _train(model, split, cfg, run)


@dataclass(frozen=True)
class _Run:
    """train_mlm's arguments beside the model, the data and the recipe."""

    ids: SpecialIds
    vocab_size: int
    seed: int
    key: str
    resume_dir: Path
    runtime: RuntimeConfig
    log: Callable[[dict, int], None]
    desc: str
    probe: Probe | None
    keep_final: bool


def _train(model, split: TokenizedSplit, cfg: TrainConfig, run: _Run) -> TrainResult:
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    fingerprint = _fingerprint(cfg, run.seed, run.key, len(split), starting_point(model))
    device = pick_device(run.runtime.device)
    model.to(device).train()
    _sparse_input_embedding(model)
    opt = _optimizer(model, cfg)
    steps = total_steps(len(split), cfg)
    sched = get_linear_schedule_with_warmup(opt, cfg.warmup_steps, steps)
    start, totals = _load_checkpoint(run.resume_dir, fingerprint, model, opt, sched)
    totals = totals or {"tokens": 0, "seconds": 0.0, "loss": float("nan")}
    lengths = split.lengths()
    per_epoch = math.ceil(len(split) / cfg.batch_size)
    order_epoch, order = -1, []
    bf16 = use_bf16(cfg.precision, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    window_loss, window_steps, window_tokens, t0 = 0.0, 0, 0, time.perf_counter()
    run_start = time.perf_counter()
    bar = tqdm(total=steps, initial=start, desc=run.desc, unit="step", disable=None)
    for step in range(start, steps):
        epoch, b = divmod(step, per_epoch)
        if epoch != order_epoch:
            order_epoch, order = epoch, epoch_batches(lengths, cfg.batch_size, run.seed, epoch)
        input_ids, attention, maskable = collate(split, order[b], cfg.max_length, run.ids)
        inputs, labels = mask_tokens(
            input_ids,
            maskable,
            generator("train", run.key, run.seed, step),
            mask_id=run.ids.mask,
            n_special=run.ids.n_special,
            vocab_size=run.vocab_size,
            probability=cfg.mlm_probability,
            mask_fraction=cfg.mask_token_fraction,
            random_fraction=cfg.random_token_fraction,
        )
        # dropout: a function of the step
        torch.manual_seed(seed_of("dropout", run.key, run.seed, step))
        with autocast:
            loss = masked_lm_loss(model, inputs.to(device), attention.to(device), labels.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        n_tokens = int(attention.sum())
        totals["tokens"] += n_tokens
        window_loss += float(loss.detach())
        window_steps += 1
        window_tokens += n_tokens
        bar.update()
        done = step + 1
        if done % run.runtime.log_every == 0 or done == steps:
            elapsed = time.perf_counter() - t0
            totals["loss"] = window_loss / window_steps
            run.log(
                {
                    "loss": totals["loss"],
                    "learning_rate": sched.get_last_lr()[0],
                    "tokens_per_second": window_tokens / elapsed if elapsed else 0.0,
                },
                done,
            )
            bar.set_postfix(loss=f"{totals['loss']:.3f}")
            window_loss, window_steps, window_tokens, t0 = 0.0, 0, 0, time.perf_counter()
        if run.probe is not None and done in run.probe[0]:
            model.eval()
            run.probe[1](done)
            model.train()
        if done % run.runtime.checkpoint_every == 0 and done < steps:
            totals["seconds"] += time.perf_counter() - run_start
            run_start = time.perf_counter()
            _save_checkpoint(run.resume_dir, fingerprint, done, totals, model, opt, sched)
    bar.close()
    model.get_input_embeddings().sparse = False
    totals["seconds"] += time.perf_counter() - run_start
    if run.keep_final and start < steps:
        _save_checkpoint(run.resume_dir, fingerprint, steps, totals, model, opt, sched)
    elif not run.keep_final:
        (run.resume_dir / CHECKPOINT).unlink(missing_ok=True)
        if run.resume_dir.exists() and not any(run.resume_dir.iterdir()):
            run.resume_dir.rmdir()
    model.eval()
    return TrainResult(
        steps,
        totals["tokens"],
        totals["seconds"],
        totals["tokens"] / totals["seconds"] if totals["seconds"] else 0.0,
        totals["loss"],
        start,
        cfg.threads,
        str(device),
        "bf16" if bf16 else "fp32",
    )
