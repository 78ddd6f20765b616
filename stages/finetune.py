"""finetune@<config>-<task>: POS or NER on a configuration's pretrained model, zero-shot.

For every finetuning seed and every source language s in C = Rh ∪ Rl: a token
classifier finetuned on s (model selection on s's dev set), evaluated on every t in C.
Writes metrics/finetune/<config>-<task>.json with ε(M_{P,s}, t) per seed.
"""

from __future__ import annotations

import argparse

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.downstream import finetune_configuration
from bloodbank.downstream_sets import CONFIGURATIONS
from bloodbank.io import write_json
from bloodbank.stagekit import run_main
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", choices=CONFIGURATIONS)
    parser.add_argument("task", choices=["pos", "ner"])
    args = parser.parse_args(argv)
    params = load_params()
    with stage_run("finetune", params.tracking, params.seed,
                   params.downstream.finetune.model_dump(),
                   {"config": args.config, "task": args.task}) as run:
        metrics = finetune_configuration(args.config, args.task, params, run)
        write_json(paths.finetune_metrics(args.config, args.task), metrics)
    for k, per_source in metrics["scores"].items():
        print(f"{args.config} {args.task} seed {k}: " + "; ".join(
            f"{s}→" + ",".join(f"{t} {v:.1f}" for t, v in row.items())
            for s, row in per_source.items()))


if __name__ == "__main__":
    run_main(main)
