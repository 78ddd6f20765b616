"""tokenizer: one WordPiece vocabulary over every language's sample, reproducible to the byte.

Writes models/tokenizer (loadable with AutoTokenizer.from_pretrained) and
metrics/tokenizer.json (information ratio per language and across languages).
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.stagekit import run_main
from bloodbank.data.sample_stats import tokenizer_report
from bloodbank.data.tokenizer import read_lines, save_tokenizer, train_tokenizer
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    samples = {code: paths.sample(code, "train") for code in params.languages}
    with stage_run(
        "tokenizer",
        params,
        logged=params.tokenizer.model_dump(),
        tags={"languages": ",".join(params.languages)},
    ) as run:
        tok = train_tokenizer(
            lambda: read_lines(samples.values()), params.tokenizer, show_progress=True
        )
        save_tokenizer(tok, paths.TOKENIZER, params.tokenizer)
        report = tokenizer_report(tok, samples)
        write_json(paths.TOKENIZER_METRICS, report)
        run.log_metrics(report)
        run.log_dict(report, "tokenizer.json")
    corr = report["tokens_vs_unique"]
    print(
        f"{paths.TOKENIZER}: {report['vocab_size']:,} tokens; tokens vs unique tokens across "
        f"languages r = {corr['r']:.3f}"
    )


if __name__ == "__main__":
    run_main(main)
