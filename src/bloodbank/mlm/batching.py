"""Batches that waste no compute on padding, in an order fixed by the seed.

Training batches are grouped by length (as transformers' ``group_by_length``):
shuffle, cut into mega-batches of 50 batches, sort each by length, split. Each batch is
padded only to its own longest sentence. The batches then follow a random order of
widths that every training shares in an epoch (``width_schedule``): trainings packed
together (``bloodbank.mlm.packed``) pad each step to the widest member's batch, and with
independent orders that would waste most of a pack's work on padding.
Evaluation batches cover every sentence exactly once, sorted by length.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import torch

from bloodbank.data.token_ids import TokenizedSplit

MEGA = 50


@dataclass(frozen=True)
class SpecialIds:
    pad: int
    cls: int
    sep: int
    mask: int
    n_special: int  # ids below this are special tokens


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """An epoch's batches: which sentences go together depends on ``seed``, the order of
    their widths on ``epoch`` alone (``width_schedule``)."""
    rng = np.random.default_rng([seed, epoch, 7919])
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    for start in range(0, len(order), batch_size * MEGA):
        mega = order[start : start + batch_size * MEGA]
        mega = mega[np.argsort(-lengths[mega], kind="stable")]
        batches += [mega[i : i + batch_size] for i in range(0, len(mega), batch_size)]
    widths = np.array([lengths[b].max() for b in batches])
    return [batches[i] for i in width_schedule(widths, epoch)]


def width_schedule(widths: np.ndarray, epoch: int) -> list[int]:
    """An order of batches in which the width quantile at step j follows one random
    sequence u_j per epoch, the same for every training: step j takes the unused batch
    whose quantile among this epoch's widths is nearest u_j. Two trainings then meet at
    each step with batches of like width (for like length distributions), whatever
    their data, seed or number of batches, and the order of widths is still random."""
    n = len(widths)
    by_width = np.argsort(widths, kind="stable")
    wanted = np.random.default_rng([epoch, 104729]).random(n) * n - 0.5  # rank positions
    remaining = list(range(n))
    order = []
    for target in wanted:
        i = bisect.bisect_left(remaining, target)
        if i == len(remaining) or (i > 0 and target - remaining[i - 1] <= remaining[i] - target):
            i -= 1
        order.append(int(by_width[remaining.pop(i)]))
    return order


def eval_batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int | None = None
) -> list[np.ndarray]:
    """Sentences sorted by length, cut into batches of at most ``batch_size`` sentences and
    ``max_tokens`` padded positions (so that long and short sentences are not mixed)."""
    order = np.argsort(lengths, kind="stable")
    batches, current = [], []
    for i in order:
        width = int(lengths[i]) + 2  # sorted ascending: the newest is the longest
        if current and (
            len(current) == batch_size or (max_tokens and (len(current) + 1) * width > max_tokens)
        ):
            batches.append(np.array(current))
            current = []
        current.append(i)
    if current:
        batches.append(np.array(current))
    return batches


def collate(
    split: TokenizedSplit, indices: np.ndarray, max_length: int, ids: SpecialIds
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, maskable)`` for ``[CLS] sentence [SEP]``, truncated."""
    body = max_length - 2
    sents = [split.sentence(int(i))[:body] for i in indices]
    width = max(len(s) for s in sents) + 2
    out = np.full((len(sents), width), ids.pad, dtype=np.int64)
    attention = np.zeros((len(sents), width), dtype=np.int64)
    maskable = np.zeros((len(sents), width), dtype=bool)
    for row, s in enumerate(sents):
        n = len(s)
        out[row, 0] = ids.cls
        out[row, 1 : n + 1] = s
        out[row, n + 1] = ids.sep
        attention[row, : n + 2] = 1
        maskable[row, 1 : n + 1] = True
    return torch.from_numpy(out), torch.from_numpy(attention), torch.from_numpy(maskable)
