"""pretrain@<config>: a multilingual masked LM for one configuration of the downstream study.

most / least / random: donors ∪ Rh ∪ Rl; control: Rh ∪ Rl only. Every configuration sees
downstream.total_chars characters, split evenly over its languages. Writes
models/pretrain/<config>/ and metrics/pretrain/<config>.json; seconds and throughput go
to MLflow and logs/timings/.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.stagekit import one_of, parse_stage_args, run_main
from bloodbank.downstream.sets import CONFIGURATIONS, load_selection
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help=f"one of {', '.join(CONFIGURATIONS)} (default: DVC_STAGE)")
    config = one_of(parse_stage_args(parser, argv).config, CONFIGURATIONS, "configuration")
    params = load_params()
    langs = load_selection(paths.SETS).configuration(config)
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    logged["total_chars"] = params.downstream.total_chars
    with stage_run("pretrain", params, logged=logged, tags={"config": config}) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.downstream.pretraining import pretrain_configuration
        from bloodbank.mlm.runs import Recipe

        out = pretrain_configuration(
            config,
            samples={c: paths.pretrain_sample(c) for c in langs},
            test_tokens={c: paths.tokens(c) for c in langs},
            total_chars=params.downstream.total_chars,
            model_cfg=params.model,
            recipe=Recipe(params.train, params.eval, params.seed, runtime=params.runtime),
            tokenizer_dir=paths.TOKENIZER,
            out=paths.pretrain_model(config),
            resume_dir=paths.resume("pretrain", config),
            log=run.log_metrics,
        )
        write_json(paths.pretrain_metrics(config), out.results)
        write_json(paths.timings("pretrain", config), out.timing)
        run.log_metrics({**out.results, "timing": out.timing})
    metrics = out.results
    print(
        f"pretrain {config}: {', '.join(metrics['languages'])}; "
        f"{sum(metrics['characters'].values()):,} characters, MRR "
        + ", ".join(f"{c} {v:.3f}" for c, v in metrics["mrr"].items())
    )


if __name__ == "__main__":
    run_main(main)
