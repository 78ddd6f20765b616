"""overlap: the lexical overlap of every two studied languages, from their token samples.

Σ_w min(p_s(w), p_t(w)) over the shared tokenizer's vocabulary (bloodbank.data.overlap):
evidence about a pair that costs no model at all. The estimate stage reads it as a
covariate of unmeasured cells. Writes metrics/overlap.csv (languages × languages).
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path
from bloodbank.core.stagekit import run_main
from bloodbank.data.overlap import lexical_overlap, mean_off_diagonal
from bloodbank.data.tokenizer import load_tokenizer
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    langs = list(params.studied)
    with stage_run("overlap", params) as run:
        vocab = load_tokenizer(paths.TOKENIZER).get_vocab_size()
        found = lexical_overlap(langs, paths.tokens, vocab)
        with atomic_path(paths.OVERLAP) as tmp:
            found.to_csv(tmp, float_format="%.6f", lineterminator="\n")
        mean = mean_off_diagonal(found)
        run.log_metrics({"mean_overlap": mean})
    print(f"{paths.OVERLAP}: {len(langs)}x{len(langs)}, mean off-diagonal overlap {mean:.3f}")


if __name__ == "__main__":
    run_main(main)
