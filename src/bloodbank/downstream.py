"""The downstream experiment end to end: pretraining samples, multilingual pretraining per
configuration, task data, finetuning runs, and reading the results back (also from MLflow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bloodbank import paths
from bloodbank.config import DownstreamConfig, Params
from bloodbank.downstream_sets import Selection
from bloodbank.io import read_json
from bloodbank.tokens import TokenizedSplit


def prefix_lines(path: Path, chars: int) -> list[str]:
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


def configuration_corpus(selection: Selection, config: str, cfg: DownstreamConfig, tok
                         ) -> tuple[TokenizedSplit, dict[str, int]]:
    """Equal characters per language of the configuration, tokenized and merged."""
    from bloodbank.tokenizer import iter_token_ids

    langs = selection.configuration(config)
    share = cfg.total_chars // len(langs)
    splits, chars = [], {}
    for code in langs:
        lines = prefix_lines(paths.pretrain_sample(code), share)
        chars[code] = sum(len(x) for x in lines)
        ids = [np.asarray(x, dtype=np.uint32) for x in iter_token_ids(tok, iter(lines))]
        lengths = np.cumsum([0, *(len(x) for x in ids)], dtype=np.int64)
        splits.append(TokenizedSplit(np.concatenate(ids), lengths))
    return concat(splits), chars


def finetune_seeds(params: Params) -> list[int]:
    """Finetuning seeds derive from the top-level seed, so ``-S seed=2`` moves them."""
    from bloodbank.masking import seed_of

    return [seed_of("finetune", params.seed, k) % 2**31 for k in
            range(params.downstream.finetune.seeds)]


def load_selection(path: Path = paths.SETS) -> Selection:
    data = read_json(path)
    return Selection(data["sets"], data["reasons"])


def collect(files: list[Path]) -> dict:
    """``results[config][task][seed][s][t]`` from the finetune stages' metrics."""
    results: dict = {}
    for f in sorted(files):
        data = read_json(f)
        results.setdefault(data["config"], {})[data["task"]] = data["scores"]
    return results


def results_from_mlflow(tracking_uri: str, experiment: str, seed: int) -> dict:
    """The same results read from the finetune runs in MLflow: for each (configuration,
    task, seed index, source), the newest run of the given top-level seed."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    runs = client.search_runs([exp.experiment_id],
                              f"tags.stage = 'finetune' AND tags.seed = '{seed}' "
                              "AND tags.source != '' AND attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"],
                              max_results=50_000)
    results: dict = {}
    seen = set()
    for run in runs:
        t = run.data.tags
        key = (t["config"], t["task"], t["finetune_seed"], t["source"])
        if key in seen:
            continue
        seen.add(key)
        scores = {k.removeprefix("test_f1."): v for k, v in run.data.metrics.items()
                  if k.startswith("test_f1.")}
        (results.setdefault(t["config"], {}).setdefault(t["task"], {})
         .setdefault(t["finetune_seed"], {}))[t["source"]] = scores
    return results


def pretrain_configuration(config: str, params: Params, log) -> dict:
    """A multilingual masked LM on the configuration's languages, equal characters each,
    with the same recipe as the mono models; scored by MRR on each language's test split."""
    from bloodbank.masking import seed_of
    from bloodbank.mlm import build_model
    from bloodbank.pretrain import save_checkpoint, score, special_ids
    from bloodbank.tokenizer import load_tokenizer
    from bloodbank.trainer import train_mlm

    selection = load_selection()
    tok = load_tokenizer(paths.TOKENIZER)
    ids = special_ids(tok)
    corpus, chars = configuration_corpus(selection, config, params.downstream, tok)
    model = build_model(params.model, tok.get_vocab_size(), ids.pad,
                        seed_of("init", "pretrain", config, params.seed))
    key = f"pretrain:{config}"
    result = train_mlm(model, corpus, params.train, ids, tok.get_vocab_size(), params.seed,
                       key, paths.RESUME / key.replace(":", "-"), log=log, desc=key)
    mrr = {code: score(model, code, params, tok).mrr for code in chars}
    save_checkpoint(model, paths.pretrain_model(config))
    return {"config": config, "languages": list(chars), "characters": chars,
            "sentences": len(corpus), "mrr": mrr, "train": result.as_dict(),
            "seed": params.seed}


def finetune_configuration(config: str, task: str, params: Params, parent) -> dict:
    """Every finetune of one (configuration, task): each seed × each source language in C,
    each evaluated on every language of C. Each finetune is a nested MLflow run."""
    import torch

    from bloodbank.pretrain import special_ids
    from bloodbank.taskdata import read_tsv
    from bloodbank.token_classification import encode, finetune, predict, score
    from bloodbank.tokenizer import load_tokenizer
    from bloodbank.tracking import child_run
    from bloodbank.trainer import pick_device

    cfg = params.downstream.finetune
    torch.set_num_threads(params.train.threads)
    c = load_selection().as_dict()["downstream_languages"]
    tok = load_tokenizer(paths.TOKENIZER)
    ids = special_ids(tok)
    device = pick_device(params.train.device)
    data = {(lang, split): encode(tok, read_tsv(paths.task_split(task, lang, split), task),
                                  task, ids, cfg.max_length)
            for lang in c for split in ("train", "dev", "test")}
    scores: dict = {}
    curves: dict = {}
    for k, seed in enumerate(finetune_seeds(params)):
        for source in c:
            tags = {"stage": "finetune", "seed": params.seed, "config": config, "task": task,
                    "finetune_seed": k, "source": source}
            with child_run(parent, f"finetune@{config}-{task}-{source}-s{k}", cfg.model_dump(),
                           tags) as run:
                model, curve = finetune(str(paths.pretrain_model(config)), task,
                                        data[source, "train"], data[source, "dev"], cfg, seed,
                                        ids.pad, device, run.log_metrics)
                row = {t: score(task, predict(model, data[t, "test"], ids.pad, device))
                       for t in c}
                run.log_metrics({f"test_f1.{t}": v for t, v in row.items()})
            scores.setdefault(str(k), {})[source] = row
            curves.setdefault(str(k), {})[source] = curve
    return {"config": config, "task": task, "languages": c, "seeds": finetune_seeds(params),
            "scores": scores, "dev_f1": curves}
