"""tokenize@<lang>: encode the sample and test split once into token-id arrays."""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.token_ids import encode_file, save_splits
from bloodbank.data.tokenizer import load_tokenizer


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    load_checked("tokenize")  # its code, as the settings stage recorded it
    tok = load_tokenizer(paths.TOKENIZER)
    splits = {name: encode_file(tok, paths.sample(lang, name)) for name in ("train", "test")}
    save_splits(paths.tokens(lang), splits)
    print(
        f"{paths.tokens(lang)}: "
        + ", ".join(
            f"{name} {len(s):,} sentences / {len(s.ids):,} tokens" for name, s in splits.items()
        )
    )


if __name__ == "__main__":
    run_main(main)
