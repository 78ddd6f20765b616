"""finetune@<config>-<task>: POS or NER on a configuration's pretrained model, zero-shot.

For every finetuning seed and every source language s in C = Rh ∪ Rl: a token
classifier finetuned on s (model selection on s's dev set), evaluated on every t in C.
Writes metrics/finetune/<config>-<task>.json with ε(M_{P,s}, t) per seed.
"""

from __future__ import annotations

import argparse
from functools import partial

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.stagekit import one_of, parse_stage_args, run_main
from bloodbank.downstream.sets import CONFIGURATIONS, load_selection
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help=f"one of {', '.join(CONFIGURATIONS)} (default: DVC_STAGE)")
    parser.add_argument("task", help="pos or ner")
    args = parse_stage_args(parser, argv, parts=2)
    one_of(args.config, CONFIGURATIONS, "configuration")
    one_of(args.task, ("pos", "ner"), "task")
    params = load_params()
    cfg = params.downstream.finetune
    langs = load_selection(paths.SETS).downstream_languages()
    with stage_run(
        "finetune", params, logged=cfg.model_dump(), tags={"config": args.config, "task": args.task}
    ) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.downstream.finetuning import finetune_configuration

        metrics = finetune_configuration(
            args.config,
            args.task,
            langs=langs,
            model_dir=paths.pretrain_model(args.config),
            tokenizer_dir=paths.TOKENIZER,
            split_path=partial(paths.task_split, args.task),
            cfg=cfg,
            seed=params.seed,
            threads=params.train.threads,
            runtime=params.runtime,
            parent=run,
        )
        write_json(paths.finetune_metrics(args.config, args.task), metrics)
    for k, per_source in metrics["scores"].items():
        print(
            f"{args.config} {args.task} seed {k}: "
            + "; ".join(
                f"{s}→" + ",".join(f"{t} {v:.1f}" for t, v in row.items())
                for s, row in per_source.items()
            )
        )


if __name__ == "__main__":
    run_main(main)
