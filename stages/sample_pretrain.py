"""sample_pretrain@<lang>: the text a studied language contributes to multilingual pretraining.

As many characters as the largest share any configuration needs (the control spreads
downstream.total_chars over C alone); each configuration reads a prefix of it.
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.sampling import sample_for_pretraining, snapshot_parts
from bloodbank.downstream.sets import pretrain_chars_per_language


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("sample_pretrain")
    chars = pretrain_chars_per_language(params.downstream)
    parts = snapshot_parts(paths.dump_manifest(lang, params.dump.date))
    written = sample_for_pretraining(
        lang,
        paths.text(lang),
        params.sample,
        chars,
        paths.pretrain_sample(lang),
        parts["sample"] if parts else None,
    )
    print(f"{paths.pretrain_sample(lang)}: {written:,} characters (needed {chars:,})")


if __name__ == "__main__":
    run_main(main)
