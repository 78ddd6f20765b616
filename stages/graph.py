"""graph: the Linguistic Blood Bank from the finetune-score matrix.

Reads the completed matrix of metrics/estimate/ (F against the mono baseline or its
compute-matched twin, graph.baseline; the measured matrix itself when every pair was
trained), the mask of measured cells and the monolingual MRRs; writes
metrics/graph.json, reports/graph.md and reports/graph/, marking estimated edges.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from bloodbank.core import paths
from bloodbank.core.config import PairRecipe, load_params
from bloodbank.core.io import read_json
from bloodbank.core.stagekit import run_main
from bloodbank.graph.matrix_io import BASELINES, read_matrix, read_measured
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    cfg = params.graph
    suffix = BASELINES[cfg.baseline]
    matrix = read_matrix(paths.ESTIMATE_DIR / f"finetune_scores{suffix}.csv", kind="percent")
    measured = read_measured(paths.ESTIMATE_DIR / "measured.csv").loc[matrix.langs, matrix.langs]
    intervals = None
    if not measured.to_numpy()[matrix.off_diagonal()].all():
        matrix = replace(matrix, measured=measured.to_numpy())
        intervals = pd.read_csv(paths.ESTIMATE_DIR / f"languages{suffix}.csv", index_col=0)
    summary = read_json(paths.SCORES_SUMMARY)  # the mono MRRs, the pairs' recipe
    # F under each baseline there is, for the planted truth (the compute-matched one only
    # with the diagonal, pairs.matched_diagonal); the analysed one is already read
    files = {
        name: paths.ESTIMATE_DIR / f"finetune_scores{sfx}.csv" for name, sfx in BASELINES.items()
    }
    scores = {
        name: matrix.frame() if name == cfg.baseline else read_matrix(path, "percent").frame()
        for name, path in files.items()
        if name == cfg.baseline or path.is_file()
    }
    with stage_run(
        "graph", params, logged=cfg.model_dump(), tags={"languages": ",".join(matrix.langs)}
    ) as run:
        # imported here, not above: run_main has set the stage environment (matplotlib's
        # cache folder), which matplotlib reads as they load
        from bloodbank.graph.planted import read_truth, recovery_slack
        from bloodbank.graph.report import publish

        analysis = publish(
            matrix,
            summary["mono_mrr"],
            out_dir=paths.GRAPH_DIR,
            report_path=paths.GRAPH_REPORT,
            metrics_path=paths.GRAPH_METRICS,
            graph=cfg,
            seed=params.seed,
            intervals=intervals,
            truth=read_truth(paths.TRUTH),
            scores=scores,
            recovery_slack=recovery_slack(PairRecipe(**summary["pair_recipe"])),
        )
        run.log_metrics(analysis)
        run.log_artifacts(paths.GRAPH_DIR)
    print(
        f"{paths.GRAPH_REPORT}: donors {analysis['donor_ranking']}; "
        f"O = {analysis['types']['O'] or 'none'}, AB+ = {analysis['types']['AB+'] or 'none'}"
    )


if __name__ == "__main__":
    run_main(main)
