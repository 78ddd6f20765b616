"""sample@<lang>: a fixed number of characters of consecutive sentences, plus a test split.

The start is drawn with ``sample.seed``, the data snapshot's own seed, so that
changing the modelling ``seed`` reuses samples and tokenizer. From a streams snapshot
(its manifest lists a sample part), the block starts at the part's first sentence: the
dump stage drew the start already, as a random stream.
"""

from __future__ import annotations

from dataclasses import asdict

from bloodbank.core import paths
from bloodbank.core.io import write_json
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.sampling import sample_language, snapshot_parts
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("sample")
    with stage_run(
        "sample",
        params,
        logged=params.sample.model_dump(),
        tags={"language": lang, "sample_seed": params.sample.seed},
    ) as run:
        parts = snapshot_parts(paths.dump_manifest(lang, params.dump.date))
        result = sample_language(
            lang,
            paths.text(lang),
            paths.sample(lang, "train"),
            paths.sample(lang, "test"),
            params.sample,
            parts["sample"] if parts else None,
        )
        meta = asdict(result)
        write_json(paths.sample_meta(lang), meta)
        run.log_metrics(meta)
    print(
        f"{lang}: {result.train_chars:,} sample and {result.test_chars:,} test characters "
        f"from {result.corpus.chars:,}"
    )


if __name__ == "__main__":
    run_main(main)
