"""Finetuning for one (configuration, task): each seed × each source language in C, each
evaluated zero-shot on every language of C. Each finetune is a nested MLflow run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bloodbank.core.config import FinetuneConfig, RuntimeConfig
from bloodbank.core.seeding import seed_of


def finetune_seeds(seed: int, n: int) -> list[int]:
    """Finetuning seeds derive from the top-level seed, so ``-S seed=2`` moves them."""
    return [seed_of("finetune", seed, k) % 2**31 for k in range(n)]


def finetune_configuration(
    config: str,
    task: str,
    *,
    langs: list[str],
    model_dir: Path,
    tokenizer_dir: Path,
    split_path: Callable[[str, str], Path],
    cfg: FinetuneConfig,
    seed: int,
    threads: int,
    runtime: RuntimeConfig,
    parent,
) -> dict:
    """``split_path(lang, split)`` gives the task file of a language's train/dev/test split.

    Returns the stage's metrics: ε(M_{P,s}, t) per finetuning seed and the dev curves."""
    import torch

    from bloodbank.data.tokenizer import load_tokenizer
    from bloodbank.downstream.task_files import read_tsv
    from bloodbank.downstream.token_classification import encode, finetune, predict, task_f1
    from bloodbank.mlm.runs import special_ids
    from bloodbank.mlm.trainer import pick_device
    from bloodbank.tracking.runs import child_run

    torch.set_num_threads(threads)
    tok = load_tokenizer(tokenizer_dir)
    ids = special_ids(tok)
    device = pick_device(runtime.device)
    data = {
        (lang, split): encode(
            tok, read_tsv(split_path(lang, split), task), task, ids, cfg.max_length
        )
        for lang in langs
        for split in ("train", "dev", "test")
    }
    seeds = finetune_seeds(seed, cfg.seeds)
    scores: dict = {}
    curves: dict = {}
    for k, finetune_seed in enumerate(seeds):
        for source in langs:
            tags = {
                "stage": "finetune",
                "seed": seed,
                "config": config,
                "task": task,
                "finetune_seed": k,
                "source": source,
            }
            with child_run(
                parent, f"finetune@{config}-{task}-{source}-s{k}", cfg.model_dump(), tags
            ) as run:
                model, curve = finetune(
                    str(model_dir),
                    task,
                    data[source, "train"],
                    dev=data[source, "dev"],
                    cfg=cfg,
                    seed=finetune_seed,
                    pad=ids.pad,
                    device=device,
                    log=run.log_metrics,
                )
                row = {
                    t: task_f1(task, predict(model, data[t, "test"], ids.pad, device))
                    for t in langs
                }
                run.log_metrics({f"test_f1.{t}": v for t, v in row.items()})
            scores.setdefault(str(k), {})[source] = row
            curves.setdefault(str(k), {})[source] = curve
    return {
        "config": config,
        "task": task,
        "languages": langs,
        "seeds": seeds,
        "scores": scores,
        "dev_f1": curves,
        "device": str(device),
    }
