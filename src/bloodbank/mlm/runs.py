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

from bloodbank.core import paths
from bloodbank.core.config import EvalConfig, ModelConfig, RuntimeConfig, TrainConfig
from bloodbank.core.io import atomic_path
from bloodbank.core.seeding import seed_of
from bloodbank.data.token_ids import TokenizedSplit, load_split
from bloodbank.data.tokenizer import SPECIAL_TOKENS, load_tokenizer
from bloodbank.mlm.batching import SpecialIds
from bloodbank.mlm.evaluation import EvalResult, drawn_masks, evaluate
from bloodbank.mlm.model import build_model
from bloodbank.mlm.monopacks import Stash
from bloodbank.mlm.trainer import (
    RUNTIME,
    Member,
    TrainResult,
    batched_kernels,
    pick_device,
    train_pack,
)

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
    ``passes``): the batches every model scored on ``lang`` sees, drawn once per machine
    (kept in ``.cache/masks``)."""
    tr, ev = recipe.train, recipe.eval
    return drawn_masks(
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
        cache_dir=paths.MASKS,
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


@dataclass(frozen=True)
class Job:
    """One run (a mono model, or a pair): ``start(r, seed)`` builds replicate r, which
    trains on ``tokens_dir``'s train split and is scored on ``lang``'s test split."""

    key: str
    lang: str
    start: Callable[[int, int], BertForMaskedLM]
    tokens_dir: Path
    out: Path
    resume_dir: Path
    log: Log


def train_jobs(
    jobs: list[Job],
    recipe: Recipe,
    *,
    tokenizer_dir: Path,
    keep_resume: bool = False,
    written: Callable[[int, tuple[list[TrainResult], EvalResult]], None] = lambda j, run: None,
) -> list[tuple[list[TrainResult], EvalResult]]:
    """Train every job's ``recipe.replicates`` models, ``recipe.train.pack`` at a time in
    one pack (``train_pack``), then score each job's replicates together and write them.

    A job is scored and written as soon as its last replicate is trained, and its models
    freed. Each training keeps its finished state in its resume folder until the job is
    written, so a run killed part-way retrains only what was not finished. With
    ``keep_resume`` the caller removes the folders: a stage that trains several jobs keeps
    them all until its whole output is written. ``written(j, run)`` is called as job j
    is written: as each finishes on a CPU, where packs run member by member (so there as
    packs of one), as each pack finishes when batched.
    """
    keep = keep_resume or recipe.replicates > 1 or len(jobs) > 1
    tok = load_tokenizer(tokenizer_dir)
    seeds = replicate_seeds(recipe.seed, recipe.replicates)
    members = [(j, r) for j in range(len(jobs)) for r in range(recipe.replicates)]
    trained: dict[int, dict[int, tuple[BertForMaskedLM, TrainResult]]] = {}
    done: list = [None] * len(jobs)
    splits: dict[Path, TokenizedSplit] = {}
    # member by member (a CPU's way), a pack is its members' lone runs in turn: train
    # them as packs of one, so that each job is written as soon as it is done
    batched = batched_kernels(recipe.train.pack_kernels, pick_device(recipe.runtime.device))
    size = recipe.train.pack if batched else 1
    for first in range(0, len(members), size):
        chunk = members[first : first + size]
        models = [jobs[j].start(r, seeds[r]) for j, r in chunk]
        for j, _ in chunk:
            splits.setdefault(jobs[j].tokens_dir, load_split(jobs[j].tokens_dir, "train"))
        pack = [_member(jobs[j], r, seeds[r], splits[jobs[j].tokens_dir], keep) for j, r in chunk]
        results = train_pack(
            models,
            pack,
            recipe.train,
            ids=special_ids(tok),
            vocab_size=tok.get_vocab_size(),
            runtime=recipe.runtime,
        )
        for (j, r), model, result in zip(chunk, models, results, strict=True):
            trained.setdefault(j, {})[r] = (model, result)
            if len(trained[j]) == recipe.replicates:
                done[j] = _score_and_write(jobs[j], trained.pop(j), recipe, tok, tokenizer_dir)
                written(j, done[j])
    if keep and not keep_resume:  # every job is written: their finished states can go
        for job in jobs:
            shutil.rmtree(job.resume_dir, ignore_errors=True)
    return done


def _member(job: Job, r: int, seed: int, split: TokenizedSplit, keep: bool) -> Member:
    return Member(
        split,
        seed,
        job.key,
        replicate_path(job.resume_dir, r),
        _replicate_log(job.log, r),
        job.key if r == 0 else f"{job.key} #{r}",
        keep_final=keep,
    )


def _score_and_write(
    job: Job, trained: dict, recipe: Recipe, tok: Tokenizer, tokenizer_dir: Path
) -> tuple[list[TrainResult], EvalResult]:
    """A job's replicates scored together on its language, then written all at once."""
    models = [trained[r][0] for r in sorted(trained)]
    evaluation = mrr_on(models, load_split(job.tokens_dir, "test"), job.lang, recipe, tok)
    with atomic_path(job.out, is_dir=True) as tmp:
        for r, model in enumerate(models):
            write_checkpoint(model.cpu(), tokenizer_dir, replicate_path(tmp, r))
    return [trained[r][1] for r in sorted(trained)], evaluation


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


def train_monos(
    langs: list[str],
    model_cfg: ModelConfig,
    recipe: Recipe,
    *,
    tokenizer_dir: Path,
    tokens_dir: Callable[[str], Path],
    out: Callable[[str], Path],
    resume_dir: Callable[[str], Path],
    log: Callable[[str], Log],
    written: Callable[[str, RunOutput], None] = lambda lang, out: None,
) -> dict[str, RunOutput]:
    """M_t for each language t: a masked LM trained from scratch on t's sample (each
    replicate its own initialisation), ``recipe.train.pack`` trainings at a time in one
    pack. The callables give a language's token folder, checkpoint, resume folder and
    log; ``written(t, out)`` is called as t's checkpoint is written. A language's model
    depends on the others only through a batched pack's padding (``train_jobs``)."""
    tok = load_tokenizer(tokenizer_dir)
    pad = special_ids(tok).pad

    def start(lang: str) -> Callable[[int, int], BertForMaskedLM]:
        def build(r: int, seed: int) -> BertForMaskedLM:
            return build_model(model_cfg, tok.get_vocab_size(), pad, seed_of("init", lang, seed))

        return build

    jobs = [
        Job(f"mono:{t}", t, start(t), tokens_dir(t), out(t), resume_dir(t), log(t)) for t in langs
    ]

    def output(t: str, run: tuple[list[TrainResult], EvalResult]) -> RunOutput:
        train, ev = run
        return RunOutput({**_results(train, ev, recipe), "language": t}, _timing(train))

    runs = train_jobs(
        jobs,
        recipe,
        tokenizer_dir=tokenizer_dir,
        written=lambda j, run: written(langs[j], output(langs[j], run)),
    )
    return {t: output(t, run) for t, run in zip(langs, runs, strict=True)}


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
    """M_t: one language's masked LM (``train_monos`` with one language)."""
    return train_monos(
        [lang],
        model_cfg,
        recipe,
        tokenizer_dir=tokenizer_dir,
        tokens_dir=lambda t: tokens_dir,
        out=lambda t: out,
        resume_dir=lambda t: resume_dir,
        log=lambda t: log,
    )[lang]


def train_mono_packed(
    lang: str,
    members: list[str],
    model_cfg: ModelConfig,
    recipe: Recipe,
    *,
    stash: Stash,
    key: Callable[[str], str],
    tokenizer_dir: Path,
    tokens_dir: Callable[[str], Path],
    out: Path,
    resume_dir: Callable[[str], Path],
    log: Log,
) -> tuple[RunOutput, str]:
    """``lang``'s mono model, trained with its group ``members`` as packs where packs run
    batched (``bloodbank.mlm.monopacks``), alone where they run member by member (the
    same bytes as in a pack there). Returns the run and how it was had: ``"alone"``,
    ``"packed"`` (this call trained the group and stashed the others under ``key(m)``)
    or ``"stash"`` (another member's stage had trained it; its log is replayed)."""
    batched = batched_kernels(recipe.train.pack_kernels, pick_device(recipe.runtime.device))
    if not batched or members == [lang]:
        alone = train_mono(
            lang,
            model_cfg,
            recipe,
            tokenizer_dir=tokenizer_dir,
            tokens_dir=tokens_dir(lang),
            out=out,
            resume_dir=resume_dir(lang),
            log=log,
        )
        return alone, "alone"
    with stash.lock(members):
        if found := stash.take(lang, key(lang)):
            for metrics, step in found.log:
                log(metrics, step)
            found.move_model(out)
            return RunOutput(found.results, found.timing), "stash"
        history: dict[str, list] = {m: [] for m in members if m != lang}

        def record(m: str) -> Log:
            if m == lang:
                return log
            return lambda metrics, step: history[m].append(
                [{k: float(v) for k, v in metrics.items()}, step]
            )

        def written(m: str, run: RunOutput) -> None:
            if m != lang:
                stash.put(m, key(m), results=run.results, timing=run.timing, log=history[m])

        runs = train_monos(
            members,
            model_cfg,
            recipe,
            tokenizer_dir=tokenizer_dir,
            tokens_dir=tokens_dir,
            out=lambda m: out if m == lang else stash.staging(m, key(m)) / "model",
            resume_dir=resume_dir,
            log=record,
            written=written,
        )
        return runs[lang], "packed"


def train_pairs(
    src: str,
    targets: list[str],
    recipe: Recipe,
    *,
    source_model: Path,
    tokenizer_dir: Path,
    tokens_dir: Callable[[str], Path],
    out: Callable[[str], Path],
    resume_dir: Callable[[str], Path],
    log: Callable[[str], Log],
    keep_resume: bool = False,
    written: Callable[[str, RunOutput], None] = lambda target, out: None,
) -> dict[str, RunOutput]:
    """M_st for each target t: the mono model of ``src`` trained on t with ``recipe`` (the
    stage gives it the pair recipe, ``PairRecipe.apply``), ``recipe.train.pack`` trainings
    at a time in one pack; replicate r starts from the source's replicate r. The callables
    give a target's token folder, checkpoint, resume folder and log; ``written(t, out)``
    is called as t's checkpoint is written. ``keep_resume``: see ``train_jobs``."""

    def start(r: int, seed: int) -> BertForMaskedLM:
        path = replicate_path(source_model, r)
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"{path}: the mono model of {src} has no replicate {r}; "
                "retrain it with the same `replicates` (dvc repro)"
            )
        return BertForMaskedLM.from_pretrained(path)

    jobs = [
        Job(f"pair:{src}-{t}", t, start, tokens_dir(t), out(t), resume_dir(t), log(t))
        for t in targets
    ]

    def output(t: str, run: tuple[list[TrainResult], EvalResult]) -> RunOutput:
        train, ev = run
        return RunOutput(
            {**_results(train, ev, recipe), "source": src, "target": t}, _timing(train)
        )

    runs = train_jobs(
        jobs,
        recipe,
        tokenizer_dir=tokenizer_dir,
        keep_resume=keep_resume,
        written=lambda j, run: written(targets[j], output(targets[j], run)),
    )
    return {t: output(t, run) for t, run in zip(targets, runs, strict=True)}


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
    """One pair, M_src→tgt (``train_pairs`` with one target)."""
    return train_pairs(
        src,
        [tgt],
        recipe,
        source_model=source_model,
        tokenizer_dir=tokenizer_dir,
        tokens_dir=lambda t: target_tokens_dir,
        out=lambda t: out,
        resume_dir=lambda t: resume_dir,
        log=lambda t: log,
        keep_resume=keep_resume,
    )[tgt]


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
