"""Packed training: K masked LMs of one shape trained together, each as if alone.

A GPU step of the study's small BERT (250 tokens) is bound by kernel launches and by
the optimizer's pass over the embeddings, not by arithmetic. Stacking K models' weights
along a new first dimension and running one step for all of them (``torch.func.vmap``
over a functional forward) turns K small launches into one K times larger. Each member
keeps exactly what it has alone, because everything random or stateful is its own:

- its initial weights (its own module's, copied);
- its data order and masks (``epoch_batches`` and ``mask_tokens`` under its seed and key);
- its dropout: boolean masks drawn from its own generator, seeded by (seed, key, step),
  at its own batch's shape before the pack pads them (so padding changes no draw);
- its optimizer state, step count, learning-rate schedule and gradient clipping
  (``MemberAdamW``, torch's fused AdamW on its own weights, and ``clip_member``).

A model trained alone is a pack of one (``train_mlm``), so the pack and the lone run
share every line of the step. Run member by member (``pack_backward(batched=False)``,
a CPU's default) a member gets the very kernels it gets alone: bitwise the same. Run
batched, a shorter batch is padded to the widest member's and a member with fewer masked
tokens sums over zero-weighted extra positions: attention gives padded keys a weight of
exactly zero and the extra positions add exact zeros, but a matrix product over a longer
row may round differently. tests/test_packed.py states the tolerance on weights and MRR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import vmap
from torch.optim.adamw import adamw

from bloodbank.mlm.masking import IGNORE

Tensor = torch.Tensor
WORD = "bert.embeddings.word_embeddings.weight"  # the input embeddings, tied to the output
BETAS = (0.9, 0.999)  # torch.optim.AdamW's defaults, which the single-model trainer used


@dataclass(frozen=True)
class Shape:
    """The architecture a pack shares, read from a transformers BertConfig."""

    layers: int
    heads: int
    eps: float
    dropout: float  # hidden and attention-probability dropout (the configs set both alike)
    pad: int

    @classmethod
    def of(cls, config) -> Shape:
        if config.hidden_act != "gelu":
            raise ValueError(f"packed training runs BERT's gelu, not {config.hidden_act!r}")
        if config.hidden_dropout_prob != config.attention_probs_dropout_prob:
            raise ValueError("packed training needs one dropout rate for hidden and attention")
        return cls(
            layers=config.num_hidden_layers,
            heads=config.num_attention_heads,
            eps=config.layer_norm_eps,
            dropout=config.hidden_dropout_prob,
            pad=config.pad_token_id,
        )


def _linear(x: Tensor, p: dict[str, Tensor], name: str) -> Tensor:
    return F.linear(x, p[f"{name}.weight"], p[f"{name}.bias"])


def _norm(x: Tensor, p: dict[str, Tensor], name: str, eps: float) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], eps)


def _drop(x: Tensor, keep: Tensor | None, rate: float) -> Tensor:
    return x if keep is None else x * keep * (1.0 / (1.0 - rate))


def encode(
    p: dict[str, Tensor], shape: Shape, words: Tensor, attention: Tensor, keep: list | None
) -> Tensor:
    """One model's last hidden states ``(B, L, H)`` from its input tokens' embedding rows
    ``words`` (``(B, L, H)``): transformers' BertModel, written as a function of its state
    dict so that ``vmap`` can run K of them; ``keep`` holds the dropout masks in the order
    ``dropout_masks`` draws them (None: eval, no dropout)."""
    keep = keep if keep is not None else [None] * (1 + 3 * shape.layers)
    width = words.shape[-2]
    e = "bert.embeddings."
    x = words + p[e + "token_type_embeddings.weight"][0]
    x = x + p[e + "position_embeddings.weight"][:width]
    x = _drop(_norm(x, p, e + "LayerNorm", shape.eps), keep[0], shape.dropout)
    bias = (1.0 - attention[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
    for i in range(shape.layers):
        x = _layer(x, p, f"bert.encoder.layer.{i}.", shape, bias, keep[1 + 3 * i : 4 + 3 * i])
    return x


def _layer(x: Tensor, p: dict, pre: str, shape: Shape, bias: Tensor, keep: list) -> Tensor:
    batch, width, hidden = x.shape
    heads = (batch, width, shape.heads, hidden // shape.heads)
    q, k, v = (
        _linear(x, p, f"{pre}attention.self.{n}").view(heads).transpose(1, 2)
        for n in ("query", "key", "value")
    )
    scores = torch.matmul(q, k.transpose(2, 3)) * (hidden // shape.heads) ** -0.5
    probs = _drop(torch.softmax(scores + bias, dim=-1), keep[0], shape.dropout)
    context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, width, hidden)
    out = _drop(_linear(context, p, f"{pre}attention.output.dense"), keep[1], shape.dropout)
    x = _norm(out + x, p, f"{pre}attention.output.LayerNorm", shape.eps)
    inner = F.gelu(_linear(x, p, f"{pre}intermediate.dense"))
    out = _drop(_linear(inner, p, f"{pre}output.dense"), keep[2], shape.dropout)
    return _norm(out + x, p, f"{pre}output.LayerNorm", shape.eps)


def head(p: dict[str, Tensor], shape: Shape, hidden: Tensor) -> Tensor:
    """The MLM head (transform, then the decoder tied to the input embeddings)."""
    t = F.gelu(_linear(hidden, p, "cls.predictions.transform.dense"))
    t = _norm(t, p, "cls.predictions.transform.LayerNorm", shape.eps)
    # (W t^T)^T rather than t W^T: the same numbers, and the backward pass then yields W's
    # gradient (V x H) in W's own layout, instead of transposing a V x H product each step
    return torch.matmul(p[WORD], t.transpose(-1, -2)).transpose(-1, -2) + p["cls.predictions.bias"]


def member_loss(
    p: dict[str, Tensor], shape: Shape, words: Tensor, batch: dict[str, Tensor], keep: list | None
) -> Tensor:
    """One model's masked-LM loss: the head runs at the masked positions only, gathered
    by index (a fixed count per pack, zero-weighted beyond the member's own)."""
    hidden = encode(p, shape, words, batch["attention"], keep)
    picked = hidden.flatten(0, 1)[batch["positions"]]
    logits = head(p, shape, picked)
    loss = F.cross_entropy(logits.float(), batch["targets"], reduction="none")
    return (loss * batch["weights"]).sum() / batch["count"]


Weights = dict[str, Tensor]  # one member's weights, by transformers' parameter names


def pack_backward(
    weights: Sequence[Weights],
    shape: Shape,
    batches: Sequence[MemberBatch | None],
    *,
    batched: bool,
) -> list[float | None]:
    """One step's forward and backward pass for every member with a batch: their losses
    (None for a member with none), each member's gradients left in its weights' ``.grad``.

    ``batched``: one vmapped pass over the members' weights stacked, the batches padded
    to one shape (what a GPU needs: K small launches become one). Otherwise each member's
    pass runs on its own weights and its own unpadded batch, one after another: on a CPU,
    already busy with one model's arithmetic, batched kernels only add the padding (and
    CPU batched matrix products run slower than single ones), so a pack there gains
    nothing from them and gives each member the very kernels it gets alone.

    The input embeddings are looked up outside the differentiated function and their
    rows' gradients added into the vocabulary matrix's (which the tied output layer fills
    anyway) at the looked-up ids: a dense vocabulary-sized gradient for the lookup alone
    would cost three passes over V x H numbers a step. The padding id gets none, as
    transformers' ``padding_idx`` gives it none.
    """
    if batched and len(batches) > 1:
        return _batched(weights, shape, batches)
    device = weights[0][WORD].device
    losses: list[float | None] = []
    for mine, member in zip(weights, batches, strict=True):
        if member is None:
            losses.append(None)
            continue
        batch, keep = stack_batches([member], shape.pad, device)
        batch = {n: t.squeeze(0) for n, t in batch.items()}
        words = mine[WORD].detach()[batch["ids"]].requires_grad_()
        loss = member_loss(mine, shape, words, batch, _first(keep))
        loss.backward()  # now: one member's activations alive at a time
        _add_lookup_grad(mine[WORD], words.grad, batch["ids"], shape.pad)
        losses.append(loss.item())
    return losses


def _add_lookup_grad(word: Tensor, rows: Tensor, ids: Tensor, pad: int) -> None:
    real = ids != pad
    word.grad.index_put_((ids[real],), rows[real], accumulate=True)


def _batched(weights: Sequence[Weights], shape: Shape, batches: Sequence) -> list:
    device = weights[0][WORD].device
    batch, keep = stack_batches(batches, shape.pad, device)
    stacked = {n: torch.stack([w[n] for w in weights]) for n in weights[0]}
    ids = batch["ids"]
    members = torch.arange(ids.shape[0], device=device)[:, None, None].expand_as(ids)
    words = stacked[WORD].detach()[members, ids].requires_grad_()

    def one(p, w, b, k):
        return member_loss(p, shape, w, b, k)

    in_dims = (0, 0, 0, None if keep is None else 0)
    losses = vmap(one, in_dims=in_dims)(stacked, words, batch, keep)
    losses.sum().backward()
    for k, mine in enumerate(weights):
        _add_lookup_grad(mine[WORD], words.grad[k], ids[k], shape.pad)
    found = losses.detach().float().cpu().tolist()
    return [None if b is None else loss for b, loss in zip(batches, found, strict=True)]


def _first(keep: list | None) -> list | None:
    return None if keep is None else [k[0] for k in keep]


def dropout_masks(
    shape: Shape, rows: int, width: int, hidden: int, gen: torch.Generator, device: torch.device
) -> list[Tensor] | None:
    """A member's dropout masks for one step, in ``encode``'s order, at its own batch's
    shape: the embeddings, then per layer the attention probabilities and the two
    residual branches. Drawn from ``gen`` alone, so padding in a pack changes no draw."""
    if shape.dropout == 0:
        return None
    rate = shape.dropout
    sites = [(rows, width, hidden)]
    for _ in range(shape.layers):
        sites += [(rows, shape.heads, width, width), (rows, width, hidden), (rows, width, hidden)]
    return [torch.rand(s, generator=gen, device=device) >= rate for s in sites]


def pad_to(
    t: Tensor, rows: int, width: int, value: float | int | bool, widths: tuple[int, ...] = (1,)
) -> Tensor:
    """``t`` padded at the end of its first dimension to ``rows`` and of its ``widths``
    dimensions (those along the sentence) to ``width``."""
    pads: list[int] = []
    for d in range(t.dim() - 1, 0, -1):
        pads += [0, width - t.shape[d]] if d in widths else [0, 0]
    pads += [0, rows - t.shape[0]]
    return F.pad(t, pads, value=value)


@dataclass
class MemberBatch:
    """One member's step before the pack pads it (None for a member not training now)."""

    ids: Tensor
    attention: Tensor
    labels: Tensor
    keep: list[Tensor] | None


def stack_batches(batches: Sequence[MemberBatch | None], pad: int, device) -> tuple[dict, list]:
    """The members' batches padded to one shape and stacked; a member with no batch (it
    has finished, or starts later) gets an all-padding one with no masked token."""
    real = [b for b in batches if b is not None]
    rows = max(b.ids.shape[0] for b in real)
    width = max(b.ids.shape[1] for b in real)
    ids, attention, labels, keep = [], [], [], []
    for b in batches:
        if b is None:
            ids.append(torch.full((rows, width), pad, dtype=torch.long))
            attention.append(torch.zeros((rows, width), dtype=torch.long))
            labels.append(torch.full((rows, width), IGNORE, dtype=torch.long))
            keep.append(None)
            continue
        ids.append(pad_to(b.ids, rows, width, pad))
        attention.append(pad_to(b.attention, rows, width, 0))
        labels.append(pad_to(b.labels, rows, width, IGNORE))
        keep.append(None if b.keep is None else [_pad_mask(m, rows, width) for m in b.keep])
    flat = [lab.flatten() for lab in labels]
    chosen = [(f != IGNORE).nonzero().flatten() for f in flat]
    most = max(1, max(len(c) for c in chosen))
    positions = torch.zeros((len(batches), most), dtype=torch.long)
    targets = torch.zeros((len(batches), most), dtype=torch.long)
    weights = torch.zeros((len(batches), most))
    for k, c in enumerate(chosen):
        positions[k, : len(c)] = c
        targets[k, : len(c)] = flat[k][c]
        weights[k, : len(c)] = 1.0
    batch = {
        "ids": torch.stack(ids),
        "attention": torch.stack(attention),
        "positions": positions,
        "targets": targets,
        "weights": weights,
        "count": torch.tensor([max(1, len(c)) for c in chosen], dtype=torch.float32),
    }
    return {k: v.to(device) for k, v in batch.items()}, _stack_keep(keep, rows, width, device)


def _pad_mask(mask: Tensor, rows: int, width: int) -> Tensor:
    """A dropout mask padded like its batch: (B, L, H), or attention's (B, heads, L, L)."""
    return pad_to(mask, rows, width, True, (2, 3) if mask.dim() == 4 else (1,))


def _stack_keep(keep: list, rows: int, width: int, device) -> list | None:
    """Per site, the members' masks stacked (an all-keep mask for a member with none)."""
    real = next((k for k in keep if k is not None), None)
    if real is None:
        return None
    sites = []
    for i, like in enumerate(real):
        full = torch.ones((rows, *like.shape[1:]), dtype=torch.bool, device=device)
        sites.append(torch.stack([full if k is None else k[i].to(device) for k in keep]))
    return sites


def clip_member(grads: list[Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` on one member's gradients, computed as it computes them."""
    norms = torch._foreach_norm(grads)  # as clip_grad_norm_ computes it, any torch >= 2.1
    total = torch.linalg.vector_norm(torch.stack(norms))
    torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))


class MemberAdamW:
    """One member's ``torch.optim.AdamW`` (fused), with transformers' groups (no decay on
    biases and LayerNorm weights), stepped at a learning rate the caller gives (the
    member's own schedule) and saved and loaded apart from the pack."""

    def __init__(self, weights: Weights, *, eps: float, weight_decay: float) -> None:
        self.weights = weights
        decays = {n: not (n.endswith("bias") or "LayerNorm" in n) for n in weights}
        self.groups = [
            ([n for n in weights if decays[n]], weight_decay),
            ([n for n in weights if not decays[n]], 0.0),
        ]
        self.eps = eps
        self.exp_avg = {n: torch.zeros_like(w, requires_grad=False) for n, w in weights.items()}
        self.exp_avg_sq = {n: torch.zeros_like(w, requires_grad=False) for n, w in weights.items()}
        self.steps = {n: torch.zeros((), device=w.device) for n, w in weights.items()}

    @torch.no_grad()
    def step(self, lr: float) -> None:
        for names, decay in self.groups:
            adamw(
                [self.weights[n] for n in names],
                [self.weights[n].grad for n in names],
                [self.exp_avg[n] for n in names],
                [self.exp_avg_sq[n] for n in names],
                [],
                [self.steps[n] for n in names],
                fused=True,
                amsgrad=False,
                beta1=BETAS[0],
                beta2=BETAS[1],
                lr=lr,
                weight_decay=decay,
                eps=self.eps,
                maximize=False,
            )

    def state(self) -> dict:
        return {
            "step": {n: float(t) for n, t in self.steps.items()},
            "exp_avg": {n: t.cpu() for n, t in self.exp_avg.items()},
            "exp_avg_sq": {n: t.cpu() for n, t in self.exp_avg_sq.items()},
        }

    @torch.no_grad()
    def load(self, state: dict) -> None:
        for n in self.exp_avg:
            self.steps[n].fill_(state["step"][n])
            self.exp_avg[n].copy_(state["exp_avg"][n])
            self.exp_avg_sq[n].copy_(state["exp_avg_sq"][n])


def linear_schedule(step: int, *, warmup: int, total: int) -> float:
    """transformers' ``get_linear_schedule_with_warmup`` factor at an optimizer step."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))
