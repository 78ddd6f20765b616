"""dump@<lang>: the pinned Wikipedia snapshot of one language, validated.

Source (params ``dump.source``): the synthetic world, a local file, a Wikimedia
mirror (resumable download checked against the published checksums), or only the
streams of a multistream dump that the sample and the statistics need (HTTP Range).
Beside the dump: a manifest of what was fetched.
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.snapshot import fetch_dump
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("dump")
    out = paths.dump(lang, params.dump.date)
    manifest = paths.dump_manifest(lang, params.dump.date)
    logged = {"dump": params.dump.model_dump(), "synthetic": params.synthetic.model_dump()}
    with stage_run("dump", params, logged=logged, tags={"language": lang}) as run:
        info = fetch_dump(lang, params.dump, params.synthetic, out, manifest)
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
