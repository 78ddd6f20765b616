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

from bloodbank.core.config import EvalConfig, ModelConfig, RuntimeConfig, TrainConfig
from bloodbank.core.io import atomic_path
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import SPECIAL_TOKENS, load_tokenizer
from bloodbank.mlm.batching import SpecialIds
from bloodbank.mlm.evaluation import EvalResult, evaluate, fixed_masks
from bloodbank.mlm.model import build_model
from bloodbank.mlm.trainer import RUNTIME, TrainResult, pick_device, train_mlm

Log = Callable[[dict, int], None]


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a trained model besides its data: the params' sections
    (``runtime`` says where and how it runs, which changes no result)."""

    train: TrainConfig
    eval: EvalConfig
    seed: int
    replicates: int = 1  # trainings per run, scored together (`replicates` in params.yaml)
    runtime: RuntimeConfig = RUNTIME


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """Replicate 0 trains with ``seed`` itself, so one replicate is the plain run."""
    return [seed] + [seed_of("replicate", seed, r) for r in range(1, replicates)]


def replicate_path(root: Path, r: int) -> Path:
    """Where replicate ``r`` of a run lives: replicate 0 is the run's own checkpoint
    (what ``AutoModelForMaskedLM.from_pretrained`` loads), the others nest inside it."""
    return root if r == 0 else root / f"replicate-{r}"


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


def masked_test(
    test: TokenizedSplit, lang: str, recipe: Recipe, tok: Tokenizer, passes: int | None = None
):
    """A language's held-out split under its fixed masks, ``eval.passes`` times (or
    ``passes``): the batches every model scored on ``lang`` sees."""
    tr, ev = recipe.train, recipe.eval
    return fixed_masks(
        test,
        tr.max_length,
        special_ids(tok),
        vocab_size=tok.get_vocab_size(),
        batch_size=ev.batch_size,
        seed=ev.mask_seed,
        language=lang,
        probability=tr.mlm_probability,
        mask_fraction=tr.mask_token_fraction,
        random_fraction=tr.random_token_fraction,
        max_tokens=ev.max_tokens,
        passes=ev.passes if passes is None else passes,
        masking=ev.masking,
    )


def mrr_on(models, test: TokenizedSplit, lang: str, recipe: Recipe, tok: Tokenizer) -> EvalResult:
    """MRR of a model (or a run's replicates) on a language's held-out split, fixed masks."""
    ev = recipe.eval
    return evaluate(
        models,
        masked_test(test, lang, recipe, tok),
        len(test),
        device=pick_device(recipe.runtime.device),
        bootstrap=ev.bootstrap,
        seed=seed_of("bootstrap", lang, ev.mask_seed),
    )


def write_checkpoint(model: BertForMaskedLM, tokenizer_dir: Path, out: Path) -> None:
    """Safetensors in the HF layout, tokenizer files beside it (``out`` may not exist)."""
    model.save_pretrained(out, safe_serialization=True)
    for f in sorted(tokenizer_dir.iterdir()):
        shutil.copyfile(f, out / f.name)


def save_checkpoint(model: BertForMaskedLM, tokenizer_dir: Path, out: Path) -> None:
    """A checkpoint written atomically: a killed run never leaves a finished-looking one."""
    with atomic_path(out, is_dir=True) as tmp:
        write_checkpoint(model, tokenizer_dir, tmp)


def _replicate_log(log: Log, r: int) -> Log:
    """Replicate 0 logs under the plain names; the others under ``replicate<r>/``."""
    if r == 0:
        return log
    return lambda metrics, step: log({f"replicate{r}/{k}": v for k, v in metrics.items()}, step)


def _train_and_score(
    key: str,
    lang: str,
    start: Callable[[int, int], BertForMaskedLM],
    *,
    tokens_dir: Path,
    tokenizer_dir: Path,
    recipe: Recipe,
    out: Path,
    resume_dir: Path,
    log: Log,
    keep_resume: bool = False,
) -> tuple[list[TrainResult], EvalResult]:
    """Train ``recipe.replicates`` models (``start(r, seed)`` builds replicate r), score
    them together, and write them all at once.

    Each replicate keeps its finished state in its resume folder until every one is
    written, so a run killed after some replicates retrains only the others. With
    ``keep_resume`` the caller removes the folder: a stage that trains several models
    keeps them all until its whole output is written.
    """
    keep = keep_resume or recipe.replicates > 1
    tok = load_tokenizer(tokenizer_dir)
    split = load_split(tokens_dir, "train")
    models, results = [], []
    for r, seed in enumerate(replicate_seeds(recipe.seed, recipe.replicates)):
        model = start(r, seed)
        results.append(
            train_mlm(
                model,
                split,
                recipe.train,
                ids=special_ids(tok),
                vocab_size=tok.get_vocab_size(),
                seed=seed,
                key=key,
                resume_dir=replicate_path(resume_dir, r),
                runtime=recipe.runtime,
                log=_replicate_log(log, r),
                desc=key if r == 0 else f"{key} #{r}",
                keep_final=keep,
            )
        )
        models.append(model)
    evaluation = mrr_on(models, load_split(tokens_dir, "test"), lang, recipe, tok)
    with atomic_path(out, is_dir=True) as tmp:
        for r, model in enumerate(models):
            write_checkpoint(model, tokenizer_dir, replicate_path(tmp, r))
    if recipe.replicates > 1 and not keep_resume:
        shutil.rmtree(resume_dir, ignore_errors=True)
    return results, evaluation


def _results(train: list[TrainResult], ev: EvalResult, recipe: Recipe) -> dict:
    """The run's metrics: replicate 0's training record, and every replicate's seed and
    final loss when there are several."""
    out = {**ev.as_dict(), "train": train[0].as_dict(), "seed": recipe.seed}
    if recipe.replicates > 1:
        out["replicates"] = {
            "seeds": replicate_seeds(recipe.seed, recipe.replicates),
            "final_loss": [t.final_loss for t in train],
            "mrr": list(ev.replicate_mrr),
        }
    return out


def _timing(train: list[TrainResult]) -> dict:
    """Seconds summed over replicates; throughput over all of them."""
    timing = train[0].timing()
    if len(train) > 1:
        seconds = sum(t.seconds for t in train)
        timing |= {
            "seconds": seconds,
            "tokens_per_second": sum(t.tokens for t in train) / seconds if seconds else 0.0,
        }
    return timing


def train_mono(
    lang: str,
    model_cfg: ModelConfig,
    recipe: Recipe,
    *,
    tokenizer_dir: Path,
    tokens_dir: Path,
    out: Path,
    resume_dir: Path,
    log: Log,
) -> RunOutput:
    """M_t: a masked LM trained from scratch on ``lang``'s sample (each replicate its own
    initialisation)."""
    tok = load_tokenizer(tokenizer_dir)

    def start(r: int, seed: int) -> BertForMaskedLM:
        pad = special_ids(tok).pad
        return build_model(model_cfg, tok.get_vocab_size(), pad, seed_of("init", lang, seed))

    train, ev = _train_and_score(
        f"mono:{lang}",
        lang,
        start,
        tokens_dir=tokens_dir,
        tokenizer_dir=tokenizer_dir,
        recipe=recipe,
        out=out,
        resume_dir=resume_dir,
        log=log,
    )
    return RunOutput({**_results(train, ev, recipe), "language": lang}, _timing(train))


def train_pair(
    src: str,
    tgt: str,
    recipe: Recipe,
    *,
    source_model: Path,
    tokenizer_dir: Path,
    target_tokens_dir: Path,
    out: Path,
    resume_dir: Path,
    log: Log,
    keep_resume: bool = False,
) -> RunOutput:
    """M_st: the mono model of ``src`` trained on ``tgt`` with ``recipe`` (the stage gives
    it the pair recipe, ``PairRecipe.apply``); replicate r starts from the source's
    replicate r. ``keep_resume``: see ``_train_and_score``."""

    def start(r: int, seed: int) -> BertForMaskedLM:
        path = replicate_path(source_model, r)
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"{path}: the mono model of {src} has no replicate {r}; "
                "retrain it with the same `replicates` (dvc repro)"
            )
        return BertForMaskedLM.from_pretrained(path)

    train, ev = _train_and_score(
        f"pair:{src}-{tgt}",
        tgt,
        start,
        tokens_dir=target_tokens_dir,
        tokenizer_dir=tokenizer_dir,
        recipe=recipe,
        out=out,
        resume_dir=resume_dir,
        log=log,
        keep_resume=keep_resume,
    )
    return RunOutput({**_results(train, ev, recipe), "source": src, "target": tgt}, _timing(train))


def first_sentences(split: TokenizedSplit, n: int | None) -> TokenizedSplit:
    """The split's first ``n`` sentences (all when ``n`` is None): their fixed masks are
    the whole split's, since a sentence's mask depends on its index alone."""
    if n is None or n >= len(split):
        return split
    return TokenizedSplit(split.ids, split.offsets[: n + 1])


def zero_shot(
    src: str,
    targets: list[str],
    recipe: Recipe,
    *,
    source_model: Path,
    tokenizer_dir: Path,
    tokens_dir: Callable[[str], Path],
    sentences: int | None,
    passes: int,
) -> dict[str, dict]:
    """M_src, untouched, scored on each target's first test sentences: how well src's
    model already fits t before any pair training (issue 16 found that brief pair
    trainings mostly measure this). ``tokens_dir(t)`` is t's token folder; the masks are
    those every model scored on t sees (pass 0 first), and a run's replicates are scored
    together, as a run is. No bootstrap: one figure per pair, cheap enough for all n²."""
    import torch

    torch.set_num_threads(recipe.train.threads)
    tok = load_tokenizer(tokenizer_dir)
    models = []
    for r in range(recipe.replicates):
        path = replicate_path(source_model, r)
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"{path}: the mono model of {src} has no replicate {r}; "
                "retrain it with the same `replicates` (dvc repro)"
            )
        models.append(BertForMaskedLM.from_pretrained(path))
    device = pick_device(recipe.runtime.device)
    for model in models:
        model.to(device)
    out = {}
    for tgt in targets:
        test = first_sentences(load_split(tokens_dir(tgt), "test"), sentences)
        batches = masked_test(test, tgt, recipe, tok, passes=passes)
        ev = evaluate(models, batches, len(test), device=device, bootstrap=0, seed=0)
        out[tgt] = {"mrr": ev.mrr, "masked_tokens": ev.masked_tokens, "sentences": len(test)}
    return out
