"""The masked LM: a standard transformers BERT, with its head run only where it counts.

The output layer projects onto the whole vocabulary (100k in the study), which
dominates the cost when applied to every position. ``masked_lm_loss`` runs the
encoder, gathers the masked positions, and applies the head there only: the
same loss as ``BertForMaskedLM(labels=...)``, a fraction of the work. Evaluation scores
through ``masked_logits``; training runs the same loss as a function of the weights
(``bloodbank.mlm.packed.member_loss``), whose gradients tests/test_packed.py holds to
``masked_lm_loss``'s.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForMaskedLM

from bloodbank.core.config import ModelConfig
from bloodbank.mlm.masking import IGNORE


def bert_config(cfg: ModelConfig, vocab_size: int, pad_id: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        pad_token_id=pad_id,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )


def build_model(cfg: ModelConfig, vocab_size: int, pad_id: int, seed: int) -> BertForMaskedLM:
    torch.manual_seed(seed)
    return BertForMaskedLM(bert_config(cfg, vocab_size, pad_id))


def masked_logits(
    model: BertForMaskedLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(M, V)`` at the M masked positions, and their labels ``(M,)``."""
    hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    selected = labels != IGNORE  # (B, T)
    return model.cls(hidden[selected]), labels[selected]  # (M, V), (M,)


def masked_lm_loss(
    model: BertForMaskedLM,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    logits, targets = masked_logits(model, input_ids, attention_mask, labels)
    if targets.numel() == 0:  # nothing masked in this batch: a zero loss, not NaN
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), targets)
