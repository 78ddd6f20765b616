"""Finetuning a pretrained model for POS or NER, and scoring it (study §6.2).

XTREME's conventions: a linear token-classification head, the label on the first word
piece of each word (the others are ignored), AdamW with linear decay and no warm-up,
model selection by the source language's dev score after each epoch. POS is scored by
token-level micro F1 (equal to accuracy for one tag per word); NER by seqeval's entity F1.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertForTokenClassification, get_linear_schedule_with_warmup
from transformers.utils import logging as transformers_logging

from bloodbank.core.config import FinetuneConfig
from bloodbank.core.seeding import seed_of
from bloodbank.downstream.task_files import LABELS, Sentence
from bloodbank.mlm.batching import SpecialIds

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    ids: list[np.ndarray]  # word pieces with [CLS] and [SEP]
    labels: list[np.ndarray]  # label index on each word's first piece, IGNORE elsewhere


def encode(
    tok: Tokenizer, sentences: list[Sentence], task: str, ids: SpecialIds, max_length: int
) -> Encoded:
    """Word pieces and first-piece labels; a sentence longer than ``max_length`` pieces is
    cut, and its words beyond the cut are not scored."""
    index = {t: i for i, t in enumerate(LABELS[task])}
    enc = tok.encode_batch(
        [list(s.words) for s in sentences], is_pretokenized=True, add_special_tokens=False
    )
    out_ids, out_labels = [], []
    for e, s in zip(enc, sentences, strict=True):
        pieces = e.ids[: max_length - 2]
        labels = [IGNORE] * len(pieces)
        previous = None
        for k, word in enumerate(e.word_ids[: len(pieces)]):
            if word is not None and word != previous:
                labels[k] = index[s.tags[word]]
            previous = word
        out_ids.append(np.array([ids.cls, *pieces, ids.sep], dtype=np.int64))
        out_labels.append(np.array([IGNORE, *labels, IGNORE], dtype=np.int64))
    return Encoded(out_ids, out_labels)


def _batch(data: Encoded, idx: np.ndarray, pad: int, device: torch.device):
    width = max(len(data.ids[i]) for i in idx)
    x = torch.full((len(idx), width), pad, dtype=torch.int64)
    y = torch.full((len(idx), width), IGNORE, dtype=torch.int64)
    for row, i in enumerate(idx):
        x[row, : len(data.ids[i])] = torch.from_numpy(data.ids[i])
        y[row, : len(data.labels[i])] = torch.from_numpy(data.labels[i])
    return x.to(device), (x != pad).to(device), y.to(device)


@torch.no_grad()
def predict(
    model, data: Encoded, pad: int, device: torch.device, batch_size: int = 64
) -> list[tuple[list[int], list[int]]]:
    """(gold, predicted) label indices per sentence, on scored positions only."""
    model.eval()
    out = []
    order = np.argsort([len(x) for x in data.ids], kind="stable")
    results: dict[int, tuple[list[int], list[int]]] = {}
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        x, attention, y = _batch(data, idx, pad, device)
        pred = model(input_ids=x, attention_mask=attention).logits.argmax(-1)
        for row, i in enumerate(idx):
            keep = y[row] != IGNORE
            results[int(i)] = (y[row][keep].tolist(), pred[row][keep].tolist())
    out = [results[i] for i in range(len(data.ids))]
    return out


def task_f1(task: str, pairs: list[tuple[list[int], list[int]]]) -> float:
    """F1 in percent: token-level micro F1 for POS, seqeval entity F1 for NER."""
    labels = LABELS[task]
    if task == "pos":
        total = sum(len(g) for g, _ in pairs)
        right = sum(int(a == b) for g, p in pairs for a, b in zip(g, p, strict=True))
        return 100.0 * right / total if total else 0.0
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    gold = [[labels[i] for i in g] for g, _ in pairs]
    pred = [[labels[i] for i in p] for _, p in pairs]
    return 100.0 * float(f1_score(gold, pred, mode="strict", scheme=IOB2, zero_division=0))


def finetune(
    pretrained: str,
    task: str,
    train: Encoded,
    *,
    dev: Encoded,
    cfg: FinetuneConfig,
    seed: int,
    pad: int,
    device: torch.device,
    log=None,
):
    """Train a token classifier; return the best-on-dev model and the per-epoch dev F1."""
    torch.manual_seed(seed_of("finetune-head", task, seed))
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the new head is expected: no load report
    transformers_logging.disable_progress_bar()
    try:
        model = BertForTokenClassification.from_pretrained(
            pretrained, num_labels=len(LABELS[task])
        ).to(device)
    finally:
        transformers_logging.set_verbosity(verbosity)
        transformers_logging.enable_progress_bar()
    steps_per_epoch = math.ceil(len(train.ids) / cfg.batch_size)
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        fused=device.type in ("cpu", "cuda"),
    )  # one kernel, not a loop
    sched = get_linear_schedule_with_warmup(opt, 0, steps_per_epoch * cfg.epochs)
    rng = np.random.default_rng(seed_of("finetune-order", task, seed))
    best, best_state, curve = -1.0, None, []
    for epoch in range(cfg.epochs):
        model.train()
        torch.manual_seed(seed_of("finetune-dropout", task, seed, epoch))
        order = rng.permutation(len(train.ids))
        for start in range(0, len(order), cfg.batch_size):
            x, attention, y = _batch(train, order[start : start + cfg.batch_size], pad, device)
            loss = model(input_ids=x, attention_mask=attention, labels=y).loss
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        dev_f1 = task_f1(task, predict(model, dev, pad, device))
        curve.append(dev_f1)
        if log:
            log({"dev_f1": dev_f1, "train_loss": float(loss.detach())}, epoch)
        if dev_f1 > best:
            best, best_state = dev_f1, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model, curve
