"""scores: gather every MRR into the finetune-score matrix F (percent) and its twin.

metrics/finetune_scores.csv: F against the mono baseline (equation 4).
metrics/finetune_scores_matched.csv: F against the compute-matched diagonal.
metrics/mrr.csv: raw MRR of every pair model; metrics/scores.json: mono MRR and summary.
"""

from __future__ import annotations

import argparse

import numpy as np

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.io import read_json, write_json
from bloodbank.scores import finetune_scores, matched_baseline, summary, write_matrix
from bloodbank.stagekit import run_main
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    langs = list(params.studied)
    mono = {t: read_json(paths.mono_metrics(t))["mrr"] for t in langs}
    pairs = {(s, t): read_json(paths.pair_metrics(s, t))["mrr"] for s in langs for t in langs}
    scores = finetune_scores(pairs, mono, langs)
    matched = finetune_scores(pairs, matched_baseline(pairs, langs), langs)
    mrr = [[pairs[s, t] for t in langs] for s in langs]
    with stage_run("scores", params.tracking, params.seed, {}, {"languages": ",".join(langs)}) \
            as run:
        write_matrix(paths.SCORES, scores, langs, digits=2)
        write_matrix(paths.SCORES_MATCHED, matched, langs, digits=2)
        write_matrix(paths.MRR_MATRIX, np.array(mrr), langs, digits=5)
        report = summary(langs, mono, pairs, scores, matched)
        write_json(paths.SCORES_SUMMARY, report)
        run.log_metrics(report)
    print(f"{paths.SCORES}: {len(langs)}x{len(langs)}, mean off-diagonal F "
          f"{report['mean_f']:.2f}% (compute-matched {report['mean_f_matched']:.2f}%)")


if __name__ == "__main__":
    run_main(main)
