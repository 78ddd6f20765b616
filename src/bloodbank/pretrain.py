"""Monolingual and bilingual (continued) pretraining runs, end to end.

A run loads the token arrays, builds or loads the model, trains it with the
recipe from params, scores it on the target's held-out test set, and writes a
Hugging Face checkpoint (safetensors, with the tokenizer alongside) and a
metrics dict.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tokenizers import Tokenizer
from transformers import BertForMaskedLM

from bloodbank import paths
from bloodbank.batching import SpecialIds
from bloodbank.config import Params
from bloodbank.evaluation import EvalResult, evaluate, fixed_masks
from bloodbank.io import atomic_path
from bloodbank.masking import seed_of
from bloodbank.mlm import build_model
from bloodbank.tokenizer import SPECIAL_TOKENS, load_tokenizer
from bloodbank.tokens import load_split
from bloodbank.trainer import TrainResult, pick_device, train_mlm


def special_ids(tok: Tokenizer) -> SpecialIds:
    vocab = tok.get_vocab()
    ids = [vocab[t] for t in SPECIAL_TOKENS]
    if sorted(ids) != list(range(len(SPECIAL_TOKENS))):
        raise ValueError("the tokenizer's special tokens must have the first ids")
    return SpecialIds(pad=vocab["[PAD]"], cls=vocab["[CLS]"], sep=vocab["[SEP]"],
                      mask=vocab["[MASK]"], n_special=len(SPECIAL_TOKENS))


def score(model, lang: str, params: Params, tok: Tokenizer) -> EvalResult:
    test = load_split(paths.tokens(lang), "test")
    tr = params.train
    batches = fixed_masks(test, tr.max_length, special_ids(tok), tok.get_vocab_size(),
                          params.eval.batch_size, params.seed, lang, tr.mlm_probability,
                          tr.mask_token_fraction, tr.random_token_fraction,
                          params.eval.max_tokens)
    return evaluate(model, batches, len(test), pick_device(tr.device), params.eval.bootstrap,
                    seed_of("bootstrap", lang, params.seed))


def save_checkpoint(model: BertForMaskedLM, out: Path) -> None:
    """Safetensors in the HF layout, tokenizer files beside it, written atomically."""
    with atomic_path(out, is_dir=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for f in sorted(paths.TOKENIZER.iterdir()):
            shutil.copyfile(f, tmp / f.name)


def run(key: str, train_lang: str, model: BertForMaskedLM, params: Params, tok: Tokenizer,
        out: Path, log) -> tuple[TrainResult, EvalResult]:
    split = load_split(paths.tokens(train_lang), "train")
    result = train_mlm(model, split, params.train, special_ids(tok), tok.get_vocab_size(),
                       params.seed, key, paths.RESUME / key.replace(":", "-"), log=log,
                       desc=key)
    evaluation = score(model, train_lang, params, tok)
    save_checkpoint(model, out)
    return result, evaluation


def run_mono(lang: str, params: Params, log) -> dict:
    tok = load_tokenizer(paths.TOKENIZER)
    ids = special_ids(tok)
    model = build_model(params.model, tok.get_vocab_size(), ids.pad,
                        seed_of("init", lang, params.seed))
    train, ev = run(f"mono:{lang}", lang, model, params, tok, paths.mono_model(lang), log)
    return {**ev.as_dict(), "train": train.as_dict(), "language": lang, "seed": params.seed}


def run_pair(src: str, tgt: str, params: Params, log) -> dict:
    tok = load_tokenizer(paths.TOKENIZER)
    model = BertForMaskedLM.from_pretrained(paths.mono_model(src))
    train, ev = run(f"pair:{src}-{tgt}", tgt, model, params, tok, paths.pair_model(src, tgt),
                    log)
    return {**ev.as_dict(), "train": train.as_dict(), "source": src, "target": tgt,
            "seed": params.seed}
