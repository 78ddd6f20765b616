"""estimate: complete the finetune-score matrices where pairs were not trained.

Reads metrics/finetune_scores.csv and its compute-matched twin (empty cells where the
plan holds no training), the monolingual MRRs (metrics/scores.json) and the proxies
(metrics/zeroshot/, metrics/overlap.csv); writes metrics/estimate/ (completed matrices,
90% intervals, per-language D and R with intervals and blood-type odds, the mask of
measured cells) and metrics/estimate.json, which also says how much of the measured F's
pair-specific part each covariate predicts. With every pair trained it copies the
matrices.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.stagekit import run_main
from bloodbank.graph.completion import complete_files, explained_by_covariates, write
from bloodbank.graph.matrix_io import read_mono_mrr
from bloodbank.graph.proxies import read_proxies
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    logged = params.estimate.model_dump()
    with stage_run("estimate", params, logged=logged) as run:
        mono = read_mono_mrr(paths.SCORES_SUMMARY)
        langs = list(params.studied)
        proxies = read_proxies(langs, paths.zeroshot_metrics, paths.OVERLAP)
        completed = complete_files(
            paths.SCORES_BY_BASELINE, params.estimate, params.seed, mono, proxies=proxies
        )
        write(completed, paths.ESTIMATE_DIR)
        summary = completed.summary() | {
            "explained": explained_by_covariates(paths.SCORES, mono, proxies)
        }
        write_json(paths.ESTIMATE_METRICS, summary)
        run.log_metrics(summary)
    mono = summary["mono"]
    print(
        f"{paths.ESTIMATE_DIR}: {mono['measured_pairs']} of {mono['pairs']} pairs measured"
        + (
            f"; the rest estimated (rank {mono['rank']}, prediction sd {mono['prediction_sd']})"
            if mono["rank"] is not None
            else ""
        )
    )


if __name__ == "__main__":
    run_main(main)
