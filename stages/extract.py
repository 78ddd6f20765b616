"""extract@<lang>: plain-text documents from the dump, cleaned by wikiextractor."""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.extraction import extract_dump
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("extract")
    dump = paths.dump(lang, params.dump.date)
    out = paths.text(lang)
    with stage_run(
        "extract", params, logged=params.extract.model_dump(), tags={"language": lang}
    ) as run:
        docs = extract_dump(
            dump,
            out,
            params.runtime.extract_processes,
            params.extract.expand_templates,
            desc=f"extract {lang}",
        )
        run.log_metrics({"documents": docs, "bytes": out.stat().st_size})
    print(f"{out}: {docs} documents")


if __name__ == "__main__":
    run_main(main)
