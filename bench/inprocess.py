"""Training as the mono and pair stages train, in this process and without checkpoints.

The benchmarks that compare recipes train many small models and only score them, so
they skip the stages' checkpoints and DVC. What decides a model is kept the same as in
`bloodbank.mlm.runs`: the initialisation key, the training key (the batch order and
masks) and the seed, so under the repository's params these models are the pipeline's.
So are the CPU kernels: importing this module pins them as a stage does
(``bloodbank.core.offline``), which takes effect as long as no torch operation has run
yet. Without it, a bench trained on the machine's native kernels, and its models
drifted from the pipeline's by rounding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tokenizers import Tokenizer

from bloodbank.core.config import ModelConfig, Params, TrainConfig
from bloodbank.core.offline import offline_environment
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.model import build_model
from bloodbank.mlm.runs import special_ids
from bloodbank.mlm.trainer import Probe, train_mlm

# the variables are read when torch first computes, not when it is imported
offline_environment()


def changed_params(
    params: Params,
    epochs: float | None = None,
    lr: float | None = None,
    hidden: int | None = None,
    layers: int | None = None,
    dropout: float | None = None,
    passes: int | None = None,
    *,
    pair_epochs: float | None = None,
    pair_lr: float | None = None,
) -> Params:
    """``params`` with a benchmark's recipe changes (None: unchanged; intermediate = 4x hidden)."""
    model = {"num_layers": layers, "dropout": dropout}
    if hidden:
        model |= {"hidden_size": hidden, "intermediate_size": 4 * hidden}

    def update(section, changes: dict):
        """Validated, so a change has the field's type (8 epochs is 8.0, as in params)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return type(section).model_validate(section.model_dump() | changes)

    return params.model_copy(
        update={
            "train": update(params.train, {"epochs": epochs, "lr": lr}),
            "pair_recipe": update(params.pair_recipe, {"epochs": pair_epochs, "lr": pair_lr}),
            "model": update(params.model, model),
            "eval": update(params.eval, {"passes": passes}),
        }
    )


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
            ids=special_ids(tok),
            vocab_size=tok.get_vocab_size(),
            seed=seed,
            key=key,
            resume_dir=Path(resume),
            probe=probe,
        )
    return model
