"""extract@<lang>: plain-text documents from the dump, cleaned by wikiextractor."""

from __future__ import annotations

import argparse

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.errors import run_main
from bloodbank.extract import extract_dump
from bloodbank.languages import check_code, get
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lang", type=check_code, help="language code, e.g. qaa or fi")
    args = parser.parse_args(argv)
    params = load_params()
    dump = paths.dump(get(args.lang).wiki, params.dump.date)
    out = paths.text(args.lang)
    with stage_run("extract", params.tracking, params.seed, params.extract.model_dump(),
                   {"language": args.lang}) as run:
        docs = extract_dump(dump, out, params.extract.processes, params.extract.expand_templates,
                            desc=f"extract {args.lang}")
        run.log_metrics({"documents": docs, "bytes": out.stat().st_size})
    print(f"{out}: {docs} documents")


if __name__ == "__main__":
    run_main(main)
