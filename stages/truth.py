"""truth: the planted transfer truth of a synthetic world (metrics/truth.csv).

For synthetic languages the expected transfer from s to t follows from the
generator: the share of t's running words that s also writes (shared cognates in a
shared script, names in a shared script). Rows are sources, columns targets, in
percent, like F. For real languages there is no planted truth: the file then holds
the languages with empty cells, and the graph report says so.
"""

from __future__ import annotations

import argparse

import pandas as pd

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path
from bloodbank.core.stagekit import run_main
from bloodbank.data.synthetic.truth import is_planted, planted_truth
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    langs = list(params.studied)
    world_seed = params.synthetic.world_seed
    planted = is_planted(langs)
    with stage_run("truth", params, logged={"world_seed": world_seed}):
        if planted:
            truth = planted_truth(langs, world_seed)
        else:
            truth = pd.DataFrame(index=pd.Index(langs, name="source"), columns=langs, dtype=float)
        with atomic_path(paths.TRUTH) as tmp:
            truth.to_csv(tmp, float_format="%.2f")
    what = "planted overlap" if planted else "no planted truth (real languages)"
    print(f"{paths.TRUTH}: {len(langs)}x{len(langs)}, {what}")


if __name__ == "__main__":
    run_main(main)
