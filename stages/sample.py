"""sample@<lang>: a fixed number of characters of consecutive sentences, plus a test split.

The start is drawn with ``sample.seed``, the data snapshot's own seed, so that
changing the modelling ``seed`` reuses samples and tokenizer.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.errors import run_main
from bloodbank.io import write_json
from bloodbank.languages import check_code
from bloodbank.sampling import sample_language
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lang", type=check_code, help="language code, e.g. qaa or fi")
    args = parser.parse_args(argv)
    params = load_params()
    with stage_run("sample", params.tracking, params.seed, params.sample.model_dump(),
                   {"language": args.lang, "sample_seed": params.sample.seed}) as run:
        result = sample_language(args.lang, paths.text(args.lang), paths.sample(args.lang, "train"),
                                 paths.sample(args.lang, "test"), params.sample)
        meta = asdict(result)
        write_json(paths.sample_meta(args.lang), meta)
        run.log_metrics(meta)
    print(f"{args.lang}: {result.train_chars:,} sample and {result.test_chars:,} test characters "
          f"from {result.corpus.chars:,}")


if __name__ == "__main__":
    run_main(main)
