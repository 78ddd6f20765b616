"""Multilingual pretraining for one configuration of the downstream study (§6.1).

Each configuration (most, least, random: donors ∪ Rh ∪ Rl; control: Rh ∪ Rl) sees the
same number of characters, split evenly over its languages, and is trained with the
recipe of the mono models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from bloodbank.core.config import ModelConfig
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import iter_token_ids, load_tokenizer
from bloodbank.mlm.model import build_model
from bloodbank.mlm.runs import Recipe, RunOutput, mrr_on, save_checkpoint, special_ids
from bloodbank.mlm.trainer import train_mlm


def prefix_lines(path: Path, chars: int) -> list[str]:
    """The first lines of ``path`` that reach ``chars`` characters."""
    out, total = [], 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if total >= chars:
                break
            line = line.rstrip("\n")
            out.append(line)
            total += len(line)
    return out


def concat(splits: list[TokenizedSplit]) -> TokenizedSplit:
    ids = np.concatenate([s.ids for s in splits])
    lengths = np.concatenate([[0], *[s.lengths() for s in splits]])
    return TokenizedSplit(ids, np.cumsum(lengths, dtype=np.int64))


def configuration_corpus(
    samples: dict[str, Path], total_chars: int, tok: Tokenizer
) -> tuple[TokenizedSplit, dict[str, int]]:
    """Equal characters per language (``samples``: code → its pretraining sample),
    tokenized and merged in the given order."""
    share = total_chars // len(samples)
    splits, chars = [], {}
    for code, path in samples.items():
        lines = prefix_lines(path, share)
        chars[code] = sum(len(x) for x in lines)
        ids = [np.asarray(x, dtype=np.uint32) for x in iter_token_ids(tok, iter(lines))]
        lengths = np.cumsum([0, *(len(x) for x in ids)], dtype=np.int64)
        splits.append(TokenizedSplit(np.concatenate(ids), lengths))
    return concat(splits), chars


def pretrain_configuration(
    config: str,
    *,
    samples: dict[str, Path],
    test_tokens: dict[str, Path],
    total_chars: int,
    model_cfg: ModelConfig,
    recipe: Recipe,
    tokenizer_dir: Path,
    out: Path,
    resume_dir: Path,
    log: Callable[[dict, int], None],
) -> RunOutput:
    """A multilingual masked LM on the configuration's languages (the keys of ``samples``),
    scored by MRR on each language's test split (``test_tokens``: code → token-id dir)."""
    tok = load_tokenizer(tokenizer_dir)
    ids = special_ids(tok)
    corpus, chars = configuration_corpus(samples, total_chars, tok)
    model = build_model(
        model_cfg, tok.get_vocab_size(), ids.pad, seed_of("init", "pretrain", config, recipe.seed)
    )
    key = f"pretrain:{config}"
    result = train_mlm(
        model,
        corpus,
        recipe.train,
        ids=ids,
        vocab_size=tok.get_vocab_size(),
        seed=recipe.seed,
        key=key,
        resume_dir=resume_dir,
        runtime=recipe.runtime,
        log=log,
        desc=key,
    )
    mrr = {
        code: mrr_on(model, load_split(test_tokens[code], "test"), code, recipe, tok).mrr
        for code in chars
    }
    save_checkpoint(model, tokenizer_dir, out)
    return RunOutput(
        {
            "config": config,
            "languages": list(chars),
            "characters": chars,
            "sentences": len(corpus),
            "mrr": mrr,
            "train": result.as_dict(),
            "seed": recipe.seed,
        },
        result.timing(),
    )
