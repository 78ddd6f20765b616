"""settings: the params.yaml values each kind of fanned-out stage depends on, read once.

Writes metrics/settings/<kind>.json (dump, extract, sample, stats, mono, zeroshot, pair):
the values of exactly the keys that change that kind's results. The stages fanned out
over the languages depend on their kind's file instead of declaring the keys, so DVC
reads params.yaml once per run rather than once per stage (bloodbank.core.settings says
why). Logs no MLflow run: it computes nothing.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.settings import write_settings
from bloodbank.core.stagekit import run_main


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    written = write_settings(load_params(), paths.SETTINGS)
    print(f"{paths.SETTINGS}: {', '.join(p.stem for p in written)}")


if __name__ == "__main__":
    run_main(main)
