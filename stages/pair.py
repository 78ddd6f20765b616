"""pair@<src>-<tgt>: the mono model of src, trained on tgt with the pair recipe, scored on tgt.

The pair recipe is `train` with `pair_recipe`'s epochs and rate where they are set. The
diagonal (t→t) is kept on purpose: mono t trained as many more steps on t, the
compute-matched baseline. Writes models/pairs/<src>-<tgt>/ and
metrics/pairs/<src>-<tgt>.json; seconds and throughput go to MLflow and logs/timings/.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.languages import check_code
from bloodbank.core.stagekit import parse_stage_args, run_main
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", help="source language (its mono model; default: DVC_STAGE)")
    parser.add_argument("tgt", help="target language (trained and scored)")
    args = parse_stage_args(parser, argv, parts=2)
    src, tgt = check_code(args.src), check_code(args.tgt)
    params = load_params()
    train = params.pair_recipe.apply(params.train)
    logged = {"train": train.model_dump(), "eval": params.eval.model_dump()}
    tags = {"pair": f"{src}-{tgt}", "source": src, "target": tgt}
    with stage_run("pair", params, logged=logged, tags=tags) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.mlm.runs import Recipe, train_pair

        out = train_pair(
            src,
            tgt,
            Recipe(train, params.eval, params.seed, params.replicates, params.runtime),
            source_model=paths.mono_model(src),
            tokenizer_dir=paths.TOKENIZER,
            target_tokens_dir=paths.tokens(tgt),
            out=paths.pair_model(src, tgt),
            resume_dir=paths.resume("pair", f"{src}-{tgt}"),
            log=run.log_metrics,
        )
        write_json(paths.pair_metrics(src, tgt), out.results)
        write_json(paths.timings("pair", f"{src}-{tgt}"), out.timing)
        run.log_metrics({**out.results, "timing": out.timing})
    print(f"pair {src}->{tgt}: MRR {out.results['mrr']:.4f}")


if __name__ == "__main__":
    run_main(main)
