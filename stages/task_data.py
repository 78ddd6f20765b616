"""task_data: POS and NER data for the downstream languages C = Rh ∪ Rl.

downstream.source: synthetic (generated in XTREME's layout), local (XTREME's layout under
downstream.local_dir), or ud (a UD release downloaded from downstream.ud_url for POS; NER
from local PAN-X files). Keeps the first downstream.max_sentences[task] training sentences
and downstream.eval_sentences of dev and test; writes data/downstream/<task>/<lang>/.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path, write_json
from bloodbank.core.stagekit import run_main
from bloodbank.downstream.sets import load_selection
from bloodbank.downstream.task_data import fetch_ud_release, prepare, write_synthetic


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = load_params()
    cfg = params.downstream
    langs = load_selection(paths.SETS).downstream_languages()
    with (
        tempfile.TemporaryDirectory() as raw,
        atomic_path(paths.DOWNSTREAM_DATA, is_dir=True) as out,
    ):
        root = Path(cfg.local_dir)
        if cfg.source == "synthetic":
            root = Path(raw)
            n = max(cfg.max_sentences.values())
            write_synthetic(
                root,
                langs,
                params.synthetic.world_seed,
                {"train": n, "dev": cfg.eval_sentences, "test": cfg.eval_sentences},
            )
        elif cfg.source == "ud" and "pos" in cfg.tasks:
            fetch_ud_release(cfg.ud_url, root, cfg.ud_sha256)
        counts = prepare(root, out, langs, cfg.tasks, cfg.max_sentences, cfg.eval_sentences)
        write_json(out / "counts.json", counts)
    for task, per_lang in counts.items():
        print(
            f"{task}: "
            + "; ".join(
                f"{lang} {c['train']}/{c['dev']}/{c['test']}" for lang, c in per_lang.items()
            )
        )


if __name__ == "__main__":
    run_main(main)
