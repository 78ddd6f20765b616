"""pair@<src>-<tgt>: the mono model of src, trained on tgt with the same recipe, scored on tgt.

The diagonal (t→t) is kept on purpose: mono t trained as many more steps on t,
the compute-matched baseline. Writes models/pairs/<src>-<tgt>/ and
metrics/pairs/<src>-<tgt>.json.
"""

from __future__ import annotations

import argparse

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.io import write_json
from bloodbank.languages import check_code
from bloodbank.stagekit import run_main
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=check_code, help="source language (its mono model)")
    parser.add_argument("tgt", type=check_code, help="target language (trained and scored)")
    args = parser.parse_args(argv)
    params = load_params()
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    tags = {"pair": f"{args.src}-{args.tgt}", "source": args.src, "target": args.tgt}
    with stage_run("pair", params.tracking, params.seed, logged, tags) as run:
        # imported here, not above: MLflow's worker starts up while torch loads
        from bloodbank.pretrain import run_pair

        metrics = run_pair(args.src, args.tgt, params, run.log_metrics)
        write_json(paths.pair_metrics(args.src, args.tgt), metrics)
        run.log_metrics(metrics)
    print(f"pair {args.src}->{args.tgt}: MRR {metrics['mrr']:.4f}")


if __name__ == "__main__":
    run_main(main)
