"""scores: gather every MRR into the finetune-score matrix F (percent) and its twin.

metrics/finetune_scores.csv: F against the mono baseline (equation 4).
metrics/finetune_scores_matched.csv: F against the compute-matched diagonal.
metrics/mrr.csv: raw MRR of every pair model; metrics/scores.json: mono MRR, summary and
the pair recipe the pairs trained with.
Only the pairs the plan stage planned (metrics/plan/) are read; a pair not planned is
an empty cell, which the estimate stage completes.
"""

from __future__ import annotations

import argparse

import pandas as pd

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import read_json, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.graph.finetune_scores import (
    finetune_scores,
    matched_baseline,
    pair_frame,
    summary,
    write_matrix,
)
from bloodbank.tracking.runs import stage_run


def measured_pairs(langs: list[str]) -> dict[tuple[str, str], float]:
    """The MRR of every planned pair, from each source's plan and results."""
    found = {}
    for src in langs:
        results = read_json(paths.pair_metrics(src))
        for tgt in read_json(paths.plan_file(src))["targets"]:
            if tgt not in results:
                raise FileNotFoundError(
                    f"{paths.pair_metrics(src)}: no result for {tgt}, which "
                    f"{paths.plan_file(src)} plans: rerun `dvc repro`"
                )
            found[(src, tgt)] = results[tgt]["mrr"]
    return found


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    langs = list(params.studied)
    mono = {t: read_json(paths.mono_metrics(t))["mrr"] for t in langs}
    pairs = pair_frame(measured_pairs(langs), langs)
    scores = finetune_scores(pairs, pd.Series(mono))
    matched = finetune_scores(pairs, matched_baseline(pairs))
    with stage_run("scores", params, tags={"languages": ",".join(langs)}) as run:
        write_matrix(paths.SCORES, scores, digits=2)
        write_matrix(paths.SCORES_MATCHED, matched, digits=2)
        write_matrix(paths.MRR_MATRIX, pairs, digits=5)
        # the pair recipe the pairs trained with, for the graph's recovery check
        report = summary(mono, pairs, scores, matched) | {
            "pair_recipe": params.pair_recipe.model_dump()
        }
        write_json(paths.SCORES_SUMMARY, report)
        run.log_metrics(report)
    if report["mean_f"] is not None:
        matched_mean = report["mean_f_matched"]  # None without the diagonal
        also = "" if matched_mean is None else f" (compute-matched {matched_mean:.2f}%)"
        mean_f = f"mean off-diagonal F {report['mean_f']:.2f}%"
        print(f"{paths.SCORES}: {len(langs)}x{len(langs)}, {mean_f}{also}")


if __name__ == "__main__":
    run_main(main)
