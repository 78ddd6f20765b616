"""Training as the mono and pair stages train, in this process and without checkpoints.

The benchmarks that compare recipes train many small models and only score them, so
they skip the stages' checkpoints and DVC. What decides a model is kept the same as in
`bloodbank.mlm.runs`: the initialisation key, the training key (the batch order and
masks) and the seed, so under the repository's params these models are the pipeline's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tokenizers import Tokenizer

from bloodbank.core.config import ModelConfig, TrainConfig
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.model import build_model
from bloodbank.mlm.runs import special_ids
from bloodbank.mlm.trainer import Probe, train_mlm


def fresh_model(model_cfg: ModelConfig, tok: Tokenizer, lang: str, seed: int):
    """The untrained mono model of ``lang``, initialised as the mono stage does."""
    pad = special_ids(tok).pad
    return build_model(model_cfg, tok.get_vocab_size(), pad, seed_of("init", lang, seed))


def fit(
    model,
    split: TokenizedSplit,
    train: TrainConfig,
    tok: Tokenizer,
    seed: int,
    key: str,
    probe: Probe | None = None,
):
    """``model`` trained in place on ``split`` (``key``: ``mono:<t>`` or ``pair:<s>-<t>``)."""
    with tempfile.TemporaryDirectory() as resume:
        train_mlm(
            model,
            split,
            train,
            special_ids(tok),
            tok.get_vocab_size(),
            seed,
            key,
            Path(resume),
            probe=probe,
        )
    return model
