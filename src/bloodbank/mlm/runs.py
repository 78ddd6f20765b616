"""Monolingual and bilingual (continued) pretraining runs, end to end.

A run loads the token arrays, builds or loads the model, trains it with the
recipe, scores it on the target's held-out test set, and writes a Hugging Face
checkpoint (safetensors, with the tokenizer alongside). It returns two dicts: the
results (what other stages read, identical on every rerun) and the timings (which
vary from run to run and go to MLflow and to files no stage depends on).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer
from transformers import BertForMaskedLM

from bloodbank.core.config import EvalConfig, ModelConfig, TrainConfig
from bloodbank.core.io import atomic_path
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import SPECIAL_TOKENS, load_tokenizer
from bloodbank.mlm.batching import SpecialIds
from bloodbank.mlm.evaluation import EvalResult, evaluate, fixed_masks
from bloodbank.mlm.model import build_model
from bloodbank.mlm.trainer import TrainResult, pick_device, train_mlm

Log = Callable[[dict, int], None]


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a trained model besides its data: the params' sections."""

    train: TrainConfig
    eval: EvalConfig
    seed: int


@dataclass(frozen=True)
class RunOutput:
    results: dict  # the stage's metrics file: read by later stages
    timing: dict  # seconds and throughput: MLflow and a timings file only


def special_ids(tok: Tokenizer) -> SpecialIds:
    vocab = tok.get_vocab()
    ids = [vocab[t] for t in SPECIAL_TOKENS]
    if sorted(ids) != list(range(len(SPECIAL_TOKENS))):
        raise ValueError("the tokenizer's special tokens must have the first ids")
    return SpecialIds(
        pad=vocab["[PAD]"],
        cls=vocab["[CLS]"],
        sep=vocab["[SEP]"],
        mask=vocab["[MASK]"],
        n_special=len(SPECIAL_TOKENS),
    )


def mrr_on(model, test: TokenizedSplit, lang: str, recipe: Recipe, tok: Tokenizer) -> EvalResult:
    """MRR of ``model`` on a language's held-out split, under that language's fixed masks."""
    tr, ev = recipe.train, recipe.eval
    batches = fixed_masks(
        test,
        tr.max_length,
        special_ids(tok),
        tok.get_vocab_size(),
        ev.batch_size,
        ev.mask_seed,
        lang,
        tr.mlm_probability,
        tr.mask_token_fraction,
        tr.random_token_fraction,
        ev.max_tokens,
        ev.passes,
    )
    return evaluate(
        model,
        batches,
        len(test),
        pick_device(tr.device),
        ev.bootstrap,
        seed_of("bootstrap", lang, ev.mask_seed),
    )


def save_checkpoint(model: BertForMaskedLM, tokenizer_dir: Path, out: Path) -> None:
    """Safetensors in the HF layout, tokenizer files beside it, written atomically."""
    with atomic_path(out, is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for f in sorted(tokenizer_dir.iterdir()):
            shutil.copyfile(f, tmp / f.name)


def _train_and_score(
    key: str,
    lang: str,
    model: BertForMaskedLM,
    tokens_dir: Path,
    tokenizer_dir: Path,
    recipe: Recipe,
    out: Path,
    resume_dir: Path,
    log: Log,
) -> tuple[TrainResult, EvalResult]:
    tok = load_tokenizer(tokenizer_dir)
    split = load_split(tokens_dir, "train")
    result = train_mlm(
        model,
        split,
        recipe.train,
        special_ids(tok),
        tok.get_vocab_size(),
        recipe.seed,
        key,
        resume_dir,
        log=log,
        desc=key,
    )
    evaluation = mrr_on(model, load_split(tokens_dir, "test"), lang, recipe, tok)
    save_checkpoint(model, tokenizer_dir, out)
    return result, evaluation


def train_mono(
    lang: str,
    model_cfg: ModelConfig,
    recipe: Recipe,
    tokenizer_dir: Path,
    tokens_dir: Path,
    out: Path,
    resume_dir: Path,
    log: Log,
) -> RunOutput:
    """M_t: a masked LM trained from scratch on ``lang``'s sample."""
    tok = load_tokenizer(tokenizer_dir)
    model = build_model(
        model_cfg, tok.get_vocab_size(), special_ids(tok).pad, seed_of("init", lang, recipe.seed)
    )
    train, ev = _train_and_score(
        f"mono:{lang}", lang, model, tokens_dir, tokenizer_dir, recipe, out, resume_dir, log
    )
    return RunOutput(
        {**ev.as_dict(), "train": train.as_dict(), "language": lang, "seed": recipe.seed},
        train.timing(),
    )


def train_pair(
    src: str,
    tgt: str,
    recipe: Recipe,
    source_model: Path,
    tokenizer_dir: Path,
    target_tokens_dir: Path,
    out: Path,
    resume_dir: Path,
    log: Log,
) -> RunOutput:
    """M_st: the mono model of ``src`` trained on ``tgt`` with the same recipe."""
    model = BertForMaskedLM.from_pretrained(source_model)
    train, ev = _train_and_score(
        f"pair:{src}-{tgt}",
        tgt,
        model,
        target_tokens_dir,
        tokenizer_dir,
        recipe,
        out,
        resume_dir,
        log,
    )
    return RunOutput(
        {
            **ev.as_dict(),
            "train": train.as_dict(),
            "source": src,
            "target": tgt,
            "seed": recipe.seed,
        },
        train.timing(),
    )
