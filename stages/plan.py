"""plan: which pairs the pair stages train, from params.yaml (studied, pairs) alone.

Writes metrics/plan/<src>.json for every studied language: its planned targets, the
diagonal included under ``pairs.matched_diagonal``. The pair stage of src depends on its
file only, so `dvc exp run -S pairs.fraction=0.5` (or a new `pairs.extra` entry) reruns
only the sources whose targets changed, and no stage trains a pair the plan dropped.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.graph.design import coverage, off_diagonal, plan
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    langs = list(params.studied)
    targets = plan(langs, params.pairs)
    off = off_diagonal(targets)
    summary = {"pairs": off, "coverage": coverage(len(langs), off)}
    with stage_run("plan", params, logged={"pairs": params.pairs.model_dump()}) as run:
        with atomic_path(paths.PLAN, is_dir=True) as tmp:
            for src, tgts in targets.items():
                write_json(tmp / paths.plan_file(src).name, {"source": src, "targets": tgts})
        run.log_metrics(summary)
    share = f"{summary['coverage']:.0%}"
    print(f"{paths.PLAN}: {off} of {len(langs) * (len(langs) - 1)} pairs ({share})")


if __name__ == "__main__":
    run_main(main)
