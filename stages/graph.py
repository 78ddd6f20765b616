"""graph: the Linguistic Blood Bank from the finetune-score matrix.

Reads metrics/finetune_scores.csv (or its compute-matched twin, graph.baseline) and the
monolingual MRRs; writes metrics/graph.json, reports/graph.md and reports/graph/.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import read_json
from bloodbank.core.stagekit import run_main
from bloodbank.graph.matrix_io import read_matrix
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    cfg = params.graph
    source = paths.SCORES if cfg.baseline == "mono" else paths.SCORES_MATCHED
    matrix = read_matrix(source, kind="percent")
    mono = read_json(paths.SCORES_SUMMARY)["mono_mrr"]
    with stage_run(
        "graph",
        params.tracking,
        params.seed,
        cfg.model_dump(),
        {"languages": ",".join(matrix.langs)},
    ) as run:
        # imported here, not above: MLflow's worker starts up while matplotlib loads
        from bloodbank.graph.report import publish

        analysis = publish(
            matrix,
            mono,
            paths.GRAPH_DIR,
            paths.GRAPH_REPORT,
            paths.GRAPH_METRICS,
            params.seed,
            tuple(cfg.bins),
            cfg.resamples,
        )
        run.log_metrics(analysis)
        run.log_artifacts(paths.GRAPH_DIR)
    print(
        f"{paths.GRAPH_REPORT}: donors {analysis['donor_ranking']}; "
        f"O = {analysis['types']['O'] or 'none'}, AB+ = {analysis['types']['AB+'] or 'none'}"
    )


if __name__ == "__main__":
    run_main(main)
