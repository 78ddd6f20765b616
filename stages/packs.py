"""packs: which mono models train together, from studied, train.pack and replicates.

Writes metrics/packs/<lang>.json for every studied language: its group (``studied`` cut
in order into groups of ``train.pack // replicates``) and the hash of each member's
training arrays, from the token index. The mono stage of a language depends on its file:
where packs run batched (a GPU's default), the first stage of a group trains the whole
group and the others take their models from its stash (bloodbank.mlm.monopacks).
"""

from __future__ import annotations

import argparse

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.data.token_index import read_index
from bloodbank.mlm.monopacks import groups, pack_files


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    index = read_index(paths.TOKEN_INDEX)
    hashes = dict(zip(index["language"], index["train_sha256"], strict=True))
    studied = list(params.studied)
    sizes = dict(pack=params.train.pack, replicates=params.replicates)
    files = pack_files(studied, hashes, **sizes)
    with atomic_path(paths.PACKS, is_dir=True) as tmp:
        for lang, content in files.items():
            write_json(tmp / paths.pack_file(lang).name, content)
    found = groups(studied, **sizes)
    print(
        f"{paths.PACKS}: {len(studied)} mono models in {len(found)} groups of up to "
        f"{len(found[0]) if found else 0}"
    )


if __name__ == "__main__":
    run_main(main)
