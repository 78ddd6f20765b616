"""tables: zero-shot matrices, Tables 3 and 4, and hypotheses 9 and 10.

Reads metrics/finetune/*.json and metrics/sets.json; writes metrics/downstream.json (a DVC
metric) and reports/tables.md.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.downstream.results import collect
from bloodbank.downstream.sets import CONFIGURATIONS, load_selection
from bloodbank.downstream.zero_shot import report, tables
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    sets = load_selection(paths.SETS).sets
    results = collect(
        [
            paths.finetune_metrics(config, task)
            for config in CONFIGURATIONS
            for task in params.downstream.tasks
        ]
    )
    with stage_run("tables", params) as run:
        out = tables(results, sets["most_recipient"], sets["least_recipient"])
        write_json(paths.DOWNSTREAM_METRICS, out)
        with atomic_path(paths.TABLES_REPORT) as tmp:
            tmp.write_text(report(out, sets), encoding="utf-8")
        run.log_metrics(out)
    for task, h in out["hypotheses"]["eq10"].items():
        print(
            f"{task}: Z_P(C) "
            + ", ".join(f"{p} {v:.1f}" for p, v in h["z_c"].items())
            + f"; equation 10 {'holds' if h['holds'] else 'does not hold'}"
        )


if __name__ == "__main__":
    run_main(main)
