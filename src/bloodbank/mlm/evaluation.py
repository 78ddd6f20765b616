"""Exact, fair masked-LM evaluation: MRR, accuracy@1, cross-entropy, bootstrap CI.

Fairness: the masked positions and their replacements are a function of the
test set and the seed only, so every model scored on a language sees exactly
the same inputs.
Precision: a test set masked once scores 15% of its tokens, and two models differ
on which of those they get right, so the MRR of one mask draw carries a sampling
error that does not cancel between models (about 2 points of F on the default's
20k-character test sets, ``bench/bench_eval_passes.py``). ``passes`` masks every
sentence that many times with independent draws and averages over all of them: the
model's expected MRR under BERT's masking, estimated from more of the test text.
Exactness: a token's rank is computed against the whole vocabulary, with ties
counted as half (the mid-rank), so equal logits never favour either side.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from bloodbank.core import seeding
from bloodbank.core.io import atomic_path
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm import batching, masking
from bloodbank.mlm.batching import SpecialIds, collate, eval_batches
from bloodbank.mlm.masking import IGNORE, generator, mask_tokens, partition, replace_chosen
from bloodbank.mlm.memory import large_buffers
from bloodbank.mlm.model import masked_logits


def ranks(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mid-rank (1 = best) of each target among its row of logits: ``(M,)`` float64.

    The mid-rank is 1 + greater + (ties - 1) / 2 = (greater - smaller + V + 1) / 2, and
    greater - smaller is the sum of sign(logit - true): one pass over the logits instead
    of a count of ``>`` and one of ``==``. Exact: x - t is 0 only when x == t, and the
    sum of at most V signs is an integer float32 holds exactly (V < 2**24).
    """
    true = logits.gather(1, targets[:, None])  # (M, 1)
    balance = (logits - true).sign_().sum(1)
    return (balance.double() + logits.shape[1] + 1.0) / 2.0


@dataclass
class EvalResult:
    mrr: float
    accuracy_at_1: float
    cross_entropy: float
    mrr_ci: tuple[float, float]
    masked_tokens: int
    sentences: int
    replicate_mrr: tuple[float, ...] = ()  # each replicate's, when several were scored

    def as_dict(self) -> dict:
        """The pooled figures (a run's replicates are listed by ``runs``, with their seeds)."""
        return {
            "mrr": self.mrr,
            "accuracy_at_1": self.accuracy_at_1,
            "cross_entropy": self.cross_entropy,
            "mrr_ci95": list(self.mrr_ci),
            "masked_tokens": self.masked_tokens,
            "sentences": self.sentences,
        }


def fixed_masks(
    split: TokenizedSplit,
    max_length: int,
    ids: SpecialIds,
    *,
    vocab_size: int,
    batch_size: int,
    seed: int,
    language: str,
    probability: float = 0.15,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    max_tokens: int | None = None,
    passes: int = 1,
    masking: Literal["random", "partition"] = "random",
):
    """Yield ``(sentence_indices, inputs, attention, labels)``: the test set, ``passes`` times.

    A sentence's mask depends on (language, seed, sentence index, pass) only, never on
    the batching, so every model scored on a language sees the very same inputs. Pass 0
    is keyed as before passes existed, so ``passes=1`` scores what it always did.
    ``masking="partition"``: a pass deals every token of a sentence to one of
    ceil(1/probability) masks (:func:`partition`), so each token is scored exactly once
    per pass, at about BERT's masking rate; no token is left out or counted twice.
    """
    lengths = np.minimum(split.lengths(), max_length - 2)
    batches = eval_batches(lengths, batch_size, max_tokens)
    partitioned = masking == "partition"
    groups = math.ceil(1.0 / probability - 1e-9) if partitioned else 1
    replace = {
        "mask_id": ids.mask,
        "n_special": ids.n_special,
        "vocab_size": vocab_size,
        "mask_fraction": mask_fraction,
        "random_fraction": random_fraction,
    }
    for p in range(passes):
        keys = _pass_keys(language, seed, p, partitioned)
        for idx in batches:
            _, attention, _ = collate(split, idx, max_length, ids)
            inputs = torch.full((groups, *attention.shape), ids.pad, dtype=torch.int64)
            labels = torch.full((groups, *attention.shape), IGNORE, dtype=torch.int64)
            for row, i in enumerate(idx):
                one, _, maskable = collate(split, np.array([i]), max_length, ids)  # unpadded
                gen = generator(*keys, int(i))
                if partitioned:
                    group = partition(maskable, gen, groups)
                    masks = [replace_chosen(one, group == g, gen, **replace) for g in range(groups)]
                else:
                    masks = [mask_tokens(one, maskable, gen, probability=probability, **replace)]
                for g, (x, y) in enumerate(masks):
                    inputs[g, row, : x.shape[1]] = x[0]
                    labels[g, row, : y.shape[1]] = y[0]
            for g in range(groups):  # (a batch of short sentences may leave a mask empty)
                yield idx, inputs[g], attention, labels[g]


def drawn_masks(
    split: TokenizedSplit,
    max_length: int,
    ids: SpecialIds,
    *,
    cache_dir: Path | None = None,
    **options,
) -> list[tuple]:
    """:func:`fixed_masks`'s batches as a list, drawn once per machine with ``cache_dir``.

    Drawing a language's masks takes about a second (a generator per sentence and pass),
    and every model scored on the language sees the same ones: its mono stage draws
    them, and so does the pair stage of every source that targets it. So the draw is kept
    in ``cache_dir`` under a key of everything it depends on (the split's tokens, every
    masking argument, the source of the modules that draw it, torch's version), and a
    later process loads the very same tensors. A cache that cannot be written costs the
    time only; the file appears whole or not at all."""
    if cache_dir is None:
        return list(fixed_masks(split, max_length, ids, **options))
    path = Path(cache_dir) / f"{_masks_key(split, max_length, ids, options)}.pt"
    with contextlib.suppress(FileNotFoundError):
        saved = torch.load(path, weights_only=True)
        return [(idx.numpy(), inputs, att, labels) for idx, inputs, att, labels in saved]
    batches = list(fixed_masks(split, max_length, ids, **options))
    with contextlib.suppress(OSError), atomic_path(path) as tmp:
        torch.save([(torch.from_numpy(idx), *rest) for idx, *rest in batches], tmp)
    return batches


def _masks_key(split: TokenizedSplit, max_length: int, ids: SpecialIds, options: dict) -> str:
    h = hashlib.sha256()
    for module in (seeding, batching, masking):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    args = [max_length, asdict(ids), options, torch.__version__, str(split.ids.dtype)]
    h.update(json.dumps(args, sort_keys=True).encode())
    h.update(split.ids.tobytes())
    h.update(split.offsets.tobytes())
    return h.hexdigest()


def _pass_keys(language: str, seed: int, p: int, partitioned: bool) -> tuple:
    """The generator keys of pass ``p`` (pass 0 of random masking keyed as before passes)."""
    if partitioned:
        return ("eval", language, seed, "partition", f"pass{p}")
    return ("eval", language, seed) if p == 0 else ("eval", language, seed, f"pass{p}")


def bootstrap_ci(
    rr_sum: np.ndarray, counts: np.ndarray, n: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of MRR when sentences are resampled with replacement."""
    if n == 0 or counts.sum() == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng([seed, 104729])
    idx = rng.integers(0, len(counts), size=(n, len(counts)))
    stats = rr_sum[idx].sum(1) / np.maximum(counts[idx].sum(1), 1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def evaluate(
    models, batches, n_sentences: int, *, device: torch.device, bootstrap: int, seed: int
) -> EvalResult:
    """Score a model, or the replicates of one run, on pre-masked batches (``fixed_masks``).

    Replicates are scored on the very same masked tokens; the figures are their means,
    the interval is over test sentences of the mean, and ``replicate_mrr`` lists each
    replicate's MRR (empty for a single model).
    """
    models = [models] if isinstance(models, torch.nn.Module) else list(models)
    with large_buffers(device.type == "cpu"):
        return _evaluate(models, batches, n_sentences, device, bootstrap, seed)


@torch.no_grad()
def _evaluate(
    models: list, batches, n_sentences: int, device: torch.device, bootstrap: int, seed: int
) -> EvalResult:
    for model in models:
        model.eval()
    rr_sum = np.zeros((len(models), n_sentences))
    counts = np.zeros(n_sentences, dtype=np.int64)
    top1 = 0
    nll = 0.0
    for idx, inputs, attention, labels in batches:
        rows = np.repeat(idx, (labels != IGNORE).sum(1).numpy())  # sentence of each target
        np.add.at(counts, rows, 1)
        for m, model in enumerate(models):
            logits, targets = masked_logits(
                model, inputs.to(device), attention.to(device), labels.to(device)
            )
            logits = logits.float()
            r = ranks(logits, targets).cpu().numpy()
            top1 += int((r == 1.0).sum())
            nll += float(F.cross_entropy(logits, targets, reduction="sum"))
            np.add.at(rr_sum[m], rows, 1.0 / r)
    total = int(counts.sum())
    scored = total * len(models)
    per_model = rr_sum.sum(axis=1) / total if total else np.full(len(models), np.nan)
    return EvalResult(
        mrr=float(per_model.mean()),
        accuracy_at_1=top1 / scored if total else float("nan"),
        cross_entropy=nll / scored if total else float("nan"),
        mrr_ci=bootstrap_ci(rr_sum.mean(axis=0), counts, bootstrap, seed),
        masked_tokens=total,
        sentences=n_sentences,
        replicate_mrr=tuple(float(x) for x in per_model) if len(models) > 1 else (),
    )
