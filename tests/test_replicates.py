"""Replicated runs: several trainings per mono model and per pair, scored together."""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM

from bloodbank.core.config import (
    EvalConfig,
    ModelConfig,
    PairRecipe,
    RuntimeConfig,
    TokenizerConfig,
    TrainConfig,
)
from bloodbank.data.synthetic.grammar import Grammar, surface
from bloodbank.data.synthetic.world import rng_for
from bloodbank.data.token_ids import encode_file, save_splits
from bloodbank.data.tokenizer import save_tokenizer, train_tokenizer
from bloodbank.mlm.runs import Recipe, replicate_path, replicate_seeds, train_mono, train_pair
from bloodbank.mlm.trainer import CHECKPOINT

MODEL = ModelConfig(
    hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64
)
TRAIN = TrainConfig(batch_size=8, epochs=1, lr=2e-3, threads=1, max_length=48)
RUNTIME = RuntimeConfig(checkpoint_every=5, log_every=5)
EVAL = EvalConfig(bootstrap=50, passes=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A tokenizer and the token arrays of two synthetic languages (about 150 sentences)."""
    root = tmp_path_factory.mktemp("world")
    lines = {}
    for code in ("qaa", "qab"):
        g, rng = Grammar(code, 0), rng_for("replicates-test", code)
        lines[code] = [surface(g.sentence(rng)) for _ in range(150)]
    cfg = TokenizerConfig(vocab_size=400, min_frequency=2)
    every = [line for ls in lines.values() for line in ls]
    save_tokenizer(train_tokenizer(lambda: iter(every), cfg), root / "tokenizer", cfg)
    from bloodbank.data.tokenizer import load_tokenizer

    tok = load_tokenizer(root / "tokenizer")
    for code, ls in lines.items():
        for name, part in (("train", ls[:120]), ("test", ls[120:])):
            (root / f"{code}.{name}.txt").write_text("\n".join(part) + "\n", encoding="utf-8")
        save_splits(
            root / "tokens" / code,
            {n: encode_file(tok, root / f"{code}.{n}.txt") for n in ("train", "test")},
        )
    return root


def mono(world: Path, out: Path, replicates: int, log=lambda m, s: None, lang: str = "qaa"):
    recipe = Recipe(TRAIN, EVAL, 0, replicates, RUNTIME)
    return train_mono(
        lang,
        MODEL,
        recipe,
        tokenizer_dir=world / "tokenizer",
        tokens_dir=world / "tokens" / lang,
        out=out / "model",
        resume_dir=out / "resume",
        log=log,
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForMaskedLM.from_pretrained(path).state_dict()


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_replicate_seeds_start_with_the_run_seed_and_differ():
    seeds = replicate_seeds(3, 4)
    assert seeds[0] == 3 and len(set(seeds)) == 4
    assert replicate_seeds(3, 2) == seeds[:2]  # more replicates keep the fewer ones
    assert not set(replicate_seeds(4, 4)) & set(seeds)


def test_one_replicate_is_the_plain_run_and_more_are_averaged(world, tmp_path):
    one = mono(world, tmp_path / "one", 1)
    three = mono(world, tmp_path / "three", 3)
    assert "replicates" not in one.results and "replicate_mrr" not in one.results
    rep = three.results["replicates"]
    assert rep["seeds"] == replicate_seeds(0, 3)
    assert rep["mrr"][0] == one.results["mrr"]  # replicate 0 is the plain run
    assert len(set(rep["mrr"])) == 3  # the others trained otherwise
    assert three.results["mrr"] == pytest.approx(np.mean(rep["mrr"]), rel=1e-12)
    lo, hi = three.results["mrr_ci95"]
    assert lo <= three.results["mrr"] <= hi
    model = tmp_path / "three" / "model"
    assert same(weights(model), weights(tmp_path / "one" / "model"))
    assert not same(weights(model), weights(replicate_path(model, 2)))
    assert not (tmp_path / "three" / "resume").exists()  # cleaned up once written


def test_pair_replicate_r_starts_from_the_source_replicate_r(world, tmp_path):
    mono(world, tmp_path / "src", 2, lang="qab")
    recipe = Recipe(TRAIN, EVAL, 0, 2, RUNTIME)

    def pair(source: Path, out: Path):
        return train_pair(
            "qab",
            "qaa",
            recipe,
            source_model=source,
            tokenizer_dir=world / "tokenizer",
            target_tokens_dir=world / "tokens" / "qaa",
            out=out / "model",
            resume_dir=out / "resume",
            log=lambda m, s: None,
        )

    out = pair(tmp_path / "src" / "model", tmp_path / "pair")
    assert len(out.results["replicates"]["mrr"]) == 2
    # replicate 1 of the pair started from replicate 1 of the source: remove that
    # replicate and the pair cannot be trained
    mono(world, tmp_path / "one", 1, lang="qab")
    with pytest.raises(FileNotFoundError, match="no replicate 1"):
        pair(tmp_path / "one" / "model", tmp_path / "pair2")


def test_a_run_killed_in_a_later_replicate_keeps_the_finished_ones(world, tmp_path):
    reference = mono(world, tmp_path / "ref", 2)

    def crash(metrics, step):
        if "replicate1/loss" in metrics and step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mono(world, tmp_path / "run", 2, log=crash)
    assert not (tmp_path / "run" / "model").exists()  # nothing finished-looking
    assert (tmp_path / "run" / "resume" / CHECKPOINT).exists()  # replicate 0, finished
    again = mono(world, tmp_path / "run", 2)
    assert again.timing["resumed_from_step"] == reference.results["train"]["steps"]
    assert again.results == reference.results
    for r in (0, 1):
        model = tmp_path / "run" / "model"
        assert same(
            weights(replicate_path(model, r)), weights(replicate_path(tmp_path / "ref/model", r))
        )


def test_a_pair_trains_with_the_pair_recipe_and_the_mono_recipe_otherwise():
    """pair_recipe's epochs and lr replace train's in the pair training only; unset, a
    pair trains with the mono recipe itself."""
    short = PairRecipe(epochs=0.5, lr=1e-4).apply(TRAIN)
    assert short == TRAIN.model_copy(update={"epochs": 0.5, "lr": 1e-4})
    assert PairRecipe(epochs=None, lr=1e-4).apply(TRAIN).epochs == TRAIN.epochs
    study = PairRecipe(epochs=None, lr=None)  # configs/study-recipe.yaml
    assert study.apply(TRAIN) == TRAIN and not study.own and PairRecipe().own
