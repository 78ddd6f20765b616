"""pair@<src>-<tgt>: the mono model of src, trained on tgt with the same recipe, scored on tgt.

The diagonal (t→t) is kept on purpose: mono t trained as many more steps on t,
the compute-matched baseline. Writes models/pairs/<src>-<tgt>/,
metrics/pairs/<src>-<tgt>.json and metrics/timings/pair/<src>-<tgt>.json.
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
    logged = {k: getattr(params, k).model_dump() for k in ("train", "eval")}
    tags = {"pair": f"{src}-{tgt}", "source": src, "target": tgt}
    with stage_run("pair", params.tracking, params.seed, logged, tags) as run:
        # imported here, not above: MLflow's worker starts up while torch loads
        from bloodbank.mlm.runs import Recipe, train_pair

        recipe = Recipe(params.train, params.eval, params.seed, params.replicates)
        out = train_pair(
            src,
            tgt,
            recipe,
            paths.mono_model(src),
            paths.TOKENIZER,
            paths.tokens(tgt),
            paths.pair_model(src, tgt),
            paths.resume("pair", f"{src}-{tgt}"),
            run.log_metrics,
        )
        write_json(paths.pair_metrics(src, tgt), out.results)
        write_json(paths.timings("pair", f"{src}-{tgt}"), out.timing)
        run.log_metrics({**out.results, "timing": out.timing})
    print(f"pair {src}->{tgt}: MRR {out.results['mrr']:.4f}")


if __name__ == "__main__":
    run_main(main)
