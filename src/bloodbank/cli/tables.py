"""`lbb tables`: Tables 3 and 4 rebuilt from the finetune runs in MLflow."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bloodbank.cli.types import existing_store
from bloodbank.core.config import load_params


def cmd_tables(args: argparse.Namespace) -> int:
    from bloodbank.core import paths
    from bloodbank.downstream.results import results_from_mlflow
    from bloodbank.downstream.sets import load_selection
    from bloodbank.downstream.zero_shot import report, tables

    params = load_params(args.params)
    sets = load_selection(paths.SETS).sets
    uri = existing_store()
    results = results_from_mlflow(uri, params.runtime.tracking.experiment, params.seed)
    if not results:
        print(f"error: no finetune runs for seed {params.seed} in {uri}", file=sys.stderr)
        return 1
    text = report(tables(results, sets["most_recipient"], sets["least_recipient"]), sets)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tables",
        help="Tables 3 and 4 from the finetune runs in MLflow",
        description="Rebuild the downstream tables from MLflow (the newest "
        "finetune run of each configuration, task, seed and source for the "
        "params' seed), as a check on metrics/downstream.json.",
    )
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--out", type=Path, help="write the Markdown here instead of printing it")
    p.set_defaults(func=cmd_tables)
