"""select: the pretraining sets of the downstream experiment, from donation and recipience.

Writes metrics/sets.json: Most / Least / Random Donating, Rh, Rl, the four configurations
and the reason each language was chosen or skipped.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import read_json, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.downstream.sets import select
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    info = read_json(paths.GRAPH_METRICS)["languages"]
    donation = {c: v["donation"] for c, v in info.items()}
    recipience = {c: v["recipience"] for c, v in info.items()}
    with stage_run("select", params, logged=params.downstream.model_dump()) as run:
        selection = select(list(params.studied), donation, recipience, params.downstream)
        write_json(paths.SETS, selection.as_dict())
        run.log_dict(selection.as_dict(), "sets.json")
    for name, codes in selection.sets.items():
        print(f"{name:16} {', '.join(codes)}")


if __name__ == "__main__":
    run_main(main)
