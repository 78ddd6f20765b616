"""dump@<lang>: the pinned Wikipedia snapshot of one language, validated.

Source (params ``dump.source``): the synthetic world, a local file, or a
Wikimedia mirror (resumable download checked against the published checksums).
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.languages import get
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.dumps import fetch_dump
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_params()
    out = paths.dump(get(lang).wiki, params.dump.date)
    logged = {"dump": params.dump.model_dump(), "synthetic": params.synthetic.model_dump()}
    with stage_run("dump", params.tracking, params.seed, logged, {"language": lang}) as run:
        info = fetch_dump(lang, params.dump, params.synthetic, out)
        run.log_metrics(
            {
                "pages": info.pages,
                "compressed_bytes": info.compressed_bytes,
                "xml_bytes": info.xml_bytes,
            }
        )
    print(f"{out}: {info.pages} pages, {info.compressed_bytes:,} bytes")


if __name__ == "__main__":
    run_main(main)
