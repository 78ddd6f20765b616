"""The masked-LM training loop: fast, resumable, and a pure function of its seed.

Every source of randomness at step ``k`` (batch order, masks, dropout) is
derived from ``(seed, run key, k)``, so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run takes and ends with the same weights.
Resumable checkpoints are written every ``runtime.checkpoint_every`` steps to a folder
outside the stage's outputs and removed when the run completes. ``train_pack`` trains
several models of one shape together (``bloodbank.mlm.packed``), each with its own
checkpoints; ``train_mlm`` is a pack of one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from bloodbank.core.config import RuntimeConfig, TrainConfig
from bloodbank.core.io import atomic_path
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.batching import SpecialIds, collate, epoch_batches
from bloodbank.mlm.masking import generator, mask_tokens
from bloodbank.mlm.memory import large_buffers
from bloodbank.mlm.packed import (
    MemberAdamW,
    MemberBatch,
    Shape,
    clip_member,
    dropout_masks,
    linear_schedule,
    pack_backward,
)

CHECKPOINT = "checkpoint.pt"
ENGINE = "packed/1"  # in every checkpoint: another engine's state is not resumed
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


def deterministic(device: torch.device) -> None:
    """What PyTorch needs for identical bytes on every run on the same hardware: its
    deterministic kernels and, on CUDA, cuBLAS's fixed workspace (read when cuBLAS first
    starts in this process; a value set before that is kept)."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    # no op here reads memory it has not written: filling every new tensor first (what
    # deterministic mode does by default, to expose such reads) only costs time
    torch.utils.deterministic.fill_uninitialized_memory = False
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False


def batched_kernels(choice: str, device: torch.device) -> bool:
    """Whether a pack runs as one vmapped model: on CUDA (``auto``), where K small kernel
    launches become one; on a CPU its members run one after another (see pack_backward)."""
    return choice == "batched" or (choice == "auto" and device.type == "cuda")


@dataclass(frozen=True)
class Member:
    """One training in a pack: its data, seed and key (every random draw follows from
    them), where it keeps its resume state, and its own logging."""

    split: TokenizedSplit
    seed: int
    key: str
    resume_dir: Path
    log: Callable[[dict, int], None] = lambda metrics, step: None
    desc: str = "train"
    probe: Probe | None = None
    keep_final: bool = False


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
    """Train ``model`` in place on ``split`` with the recipe in ``cfg``: a pack of one.

    ``runtime`` says where it trains and how often it logs and checkpoints; none of that
    changes the weights. ``probe`` (steps, callback) calls the callback with the step
    number after those steps, model in eval mode: a held-out learning curve that leaves
    training as it is. ``keep_final`` leaves the finished state in ``resume_dir`` (a rerun
    then loads it instead of training): for a caller that trains several models before it
    writes any.
    """
    member = Member(split, seed, key, resume_dir, log, desc, probe, keep_final)
    return train_pack([model], [member], cfg, ids=ids, vocab_size=vocab_size, runtime=runtime)[0]


def train_pack(
    models: list,
    members: list[Member],
    cfg: TrainConfig,
    *,
    ids: SpecialIds,
    vocab_size: int,
    runtime: RuntimeConfig = RUNTIME,
) -> list[TrainResult]:
    """Train K models of one architecture together, each on its member's data, seed and
    key exactly as ``train_mlm`` trains it alone (``bloodbank.mlm.packed``). Each model is
    updated in place; each member resumes from its own checkpoint, and one whose training
    is done (``keep_final``) is not trained again."""
    if len(models) != len(members) or not models:
        raise ValueError(f"{len(models)} models for {len(members)} members")
    device = pick_device(runtime.device)
    with large_buffers(device.type == "cpu"):
        return _Pack(models, members, cfg, ids, vocab_size, runtime, device).run()


ARCHITECTURE = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "layer_norm_eps",
    "pad_token_id",
)


def _same_shape(models: list) -> Shape:
    """The pack's shape; models whose architectures differ cannot share a pack (their
    configs may differ elsewhere: where they were loaded from, say)."""
    shapes = [tuple(getattr(m.config, key) for key in ARCHITECTURE) for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("a pack holds models of one architecture: these configs differ")
    return Shape.of(models[0].config)


class _Pack:
    """The state of one pack's training: per member its weights, optimizer, data order,
    step, totals and window of logged loss."""

    def __init__(self, models, members, cfg, ids, vocab_size, runtime, device) -> None:
        torch.set_num_threads(cfg.threads)
        deterministic(device)
        self.models, self.members, self.cfg, self.ids = models, members, cfg, ids
        self.vocab_size, self.runtime, self.device = vocab_size, runtime, device
        self.shape = _same_shape(models)
        self.hidden = models[0].config.hidden_size
        self.prints = [
            _fingerprint(cfg, m.seed, m.key, len(m.split), starting_point(model))
            for model, m in zip(models, members, strict=True)
        ]
        self.weights = [
            {n: w.detach().to(device).clone().requires_grad_() for n, w in m.named_parameters()}
            for m in models
        ]
        self.opts = [
            MemberAdamW(w, eps=cfg.adam_epsilon, weight_decay=cfg.weight_decay)
            for w in self.weights
        ]
        self.steps = [total_steps(len(m.split), cfg) for m in members]
        self.orders: list[tuple[int, list]] = [(-1, []) for _ in members]
        self.totals = [{"tokens": 0, "seconds": 0.0, "loss": float("nan")} for _ in members]
        self.starts = [self._resume(k) for k in range(len(members))]
        self.window = [[0.0, 0, 0, 0.0] for _ in members]  # loss, steps, tokens, s since a log
        self.bf16 = use_bf16(cfg.precision, device)
        self.batched = batched_kernels(cfg.pack_kernels, device)

    def _resume(self, k: int) -> int:
        path = self.members[k].resume_dir / CHECKPOINT
        if not path.exists():
            return 0
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") != self.prints[k] or state.get("engine") != ENGINE:
            print(f"{path}: made with other settings; starting afresh")
            return 0
        with torch.no_grad():
            for n, w in self.weights[k].items():
                w.copy_(state["weights"][n])
        self.opts[k].load(state["optimizer"])
        self.totals[k] = state["totals"]
        return state["step"]

    def _save(self, k: int, step: int) -> None:
        state = {
            "engine": ENGINE,
            "fingerprint": self.prints[k],
            "step": step,
            "totals": self.totals[k],
            "weights": {n: w.detach().cpu() for n, w in self.weights[k].items()},
            "optimizer": self.opts[k].state(),
        }
        with atomic_path(self.members[k].resume_dir / CHECKPOINT) as tmp:
            torch.save(state, tmp)

    def _batch(self, k: int, step: int) -> MemberBatch:
        """Member k's batch, masks and dropout at ``step``: a function of its seed and key."""
        m, cfg = self.members[k], self.cfg
        epoch, b = divmod(step, math.ceil(len(m.split) / cfg.batch_size))
        if self.orders[k][0] != epoch:
            self.orders[k] = (
                epoch,
                epoch_batches(m.split.lengths(), cfg.batch_size, m.seed, epoch),
            )
        input_ids, attention, maskable = collate(
            m.split, self.orders[k][1][b], cfg.max_length, self.ids
        )
        inputs, labels = mask_tokens(
            input_ids,
            maskable,
            generator("train", m.key, m.seed, step),
            mask_id=self.ids.mask,
            n_special=self.ids.n_special,
            vocab_size=self.vocab_size,
            probability=cfg.mlm_probability,
            mask_fraction=cfg.mask_token_fraction,
            random_fraction=cfg.random_token_fraction,
        )
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed_of("dropout", m.key, m.seed, step))
        rows, width = inputs.shape
        keep = dropout_masks(self.shape, rows, width, self.hidden, gen, self.device)
        return MemberBatch(inputs, attention, labels, keep)

    def run(self) -> list[TrainResult]:
        """Batched, every member steps together; member by member, each trains through
        to its end before the next starts (interleaving them would buy a CPU nothing and
        cost it its caches), so that a pack there is its members' lone runs, in turn."""
        todo = sum(max(0, s - st) for s, st in zip(self.steps, self.starts, strict=True))
        desc = self.members[0].desc if len(self.members) == 1 else f"pack of {len(self.members)}"
        bar = tqdm(total=todo, desc=desc, unit="step", disable=None)
        everyone = list(range(len(self.members)))
        for group in [everyone] if self.batched else [[k] for k in everyone]:
            self._train(group, bar)
        bar.close()
        return [self._finish(k) for k in everyone]

    def _train(self, group: list[int], bar) -> None:
        """The steps of the members in ``group``, together."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        weights = [self.weights[k] for k in group]
        for step in range(min(self.starts[k] for k in group), max(self.steps[k] for k in group)):
            began = time.perf_counter()
            active = [k for k in group if self.starts[k] <= step < self.steps[k]]
            batches = [self._batch(k, step) if k in active else None for k in group]
            with autocast:
                losses = pack_backward(weights, self.shape, batches, batched=self.batched)
            for k in active:
                clip_member([w.grad for w in self.weights[k].values()], self.cfg.max_grad_norm)
                self.opts[k].step(self._lr(k, step))
            for w in (w for mine in weights for w in mine.values()):
                w.grad = None
            share = (time.perf_counter() - began) / len(active)
            for k, batch, loss in zip(group, batches, losses, strict=True):
                if batch is not None:
                    self._after_step(k, step + 1, loss, int(batch.attention.sum()), share)
            bar.update(len(active))

    def _lr(self, k: int, step: int) -> float:
        cfg = self.cfg
        return cfg.lr * linear_schedule(step, warmup=cfg.warmup_steps, total=self.steps[k])

    def _after_step(self, k: int, done: int, loss: float, tokens: int, seconds: float) -> None:
        """Member k's totals, log, probe and checkpoint after its step ``done``."""
        totals, window, member = self.totals[k], self.window[k], self.members[k]
        totals["tokens"] += tokens
        totals["seconds"] += seconds
        for i, value in enumerate((loss, 1, tokens, seconds)):
            window[i] += value
        if done % self.runtime.log_every == 0 or done == self.steps[k]:
            totals["loss"] = window[0] / window[1]
            rate = window[2] / window[3] if window[3] else 0.0
            lr = self._lr(k, done)
            member.log(
                {"loss": totals["loss"], "learning_rate": lr, "tokens_per_second": rate}, done
            )
            self.window[k] = [0.0, 0, 0, 0.0]
        if member.probe is not None and done in member.probe[0]:
            self._write_back(k)
            member.probe[1](done)
        if done % self.runtime.checkpoint_every == 0 and done < self.steps[k]:
            self._save(k, done)
        if done == self.steps[k] and member.keep_final:
            self._save(k, done)

    def _write_back(self, k: int) -> None:
        """Member k's current weights into its module (on the pack's device), eval mode."""
        model = self.models[k].to(self.device)
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.copy_(self.weights[k][n])
        model.eval()

    def _finish(self, k: int) -> TrainResult:
        member, totals = self.members[k], self.totals[k]
        self._write_back(k)
        if not member.keep_final:
            (member.resume_dir / CHECKPOINT).unlink(missing_ok=True)
            if member.resume_dir.exists() and not any(member.resume_dir.iterdir()):
                member.resume_dir.rmdir()
        return TrainResult(
            self.steps[k],
            totals["tokens"],
            totals["seconds"],
            totals["tokens"] / totals["seconds"] if totals["seconds"] else 0.0,
            totals["loss"],
            self.starts[k],
            self.cfg.threads,
            str(self.device),
            "bf16" if self.bf16 else "fp32",
        )
