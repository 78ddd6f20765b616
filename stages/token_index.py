"""token_index: one row per studied language: the hash of its token arrays, and its size.

The pair and zeroshot stages read the arrays of languages their own item does not name,
and depend on this index instead of on all of data/tokens (bloodbank.data.token_index
says why). Writes metrics/tokens.csv.
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.stagekit import run_main
from bloodbank.data.token_index import build_index, write_index


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    index = build_index([paths.tokens(code) for code in params.studied])
    write_index(index, paths.TOKEN_INDEX)
    print(
        f"{paths.TOKEN_INDEX}: {len(index)} languages, "
        f"{index['train_tokens'].sum():,} training tokens in all"
    )


if __name__ == "__main__":
    run_main(main)
