"""pretrain@<config>: a multilingual masked LM for one configuration of the downstream study.

most / least / random: donors ∪ Rh ∪ Rl; control: Rh ∪ Rl only. Every configuration sees
downstream.total_chars characters, split evenly over its languages. Writes
models/pretrain/<config>/ and metrics/pretrain/<config>.json.
"""

from __future__ import annotations

import argparse

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.downstream import pretrain_configuration
from bloodbank.downstream_sets import CONFIGURATIONS
from bloodbank.io import write_json
from bloodbank.stagekit import run_main
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", choices=CONFIGURATIONS)
    config = parser.parse_args(argv).config
    params = load_params()
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train")}
    logged["total_chars"] = params.downstream.total_chars
    with stage_run("pretrain", params.tracking, params.seed, logged, {"config": config}) as run:
        metrics = pretrain_configuration(config, params, run.log_metrics)
        write_json(paths.pretrain_metrics(config), metrics)
        run.log_metrics(metrics)
    print(f"pretrain {config}: {', '.join(metrics['languages'])}; "
          f"{sum(metrics['characters'].values()):,} characters, MRR "
          + ", ".join(f"{c} {v:.3f}" for c, v in metrics["mrr"].items()))


if __name__ == "__main__":
    run_main(main)
