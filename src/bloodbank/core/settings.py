"""The settings each fanned-out stage depends on, read from params.yaml once per run.

DVC reads a stage's declared params by parsing the whole params file and searching its
tree once per key, in every stage. With hundreds of languages the tree holds two lists of
hundreds of codes (``languages``, ``studied``), and the stages fanned out over them are
thousands: `dvc status` spent most of its time there, and that work grew with the square
of the languages (`bench/bench_scale.py`). So the fanned-out stages declare no params.
One stage, ``settings``, declares the union of their keys and writes, for each kind of
fanned-out stage, the values of exactly the keys that change that kind's results
(:data:`KEYS`) to ``metrics/settings/<kind>.json``; each fanned-out stage depends on its
kind's file. Changing ``pair_recipe`` rewrites only ``pair.json``, so only the pair
stages rerun, as when they declared the keys themselves.

Each file also holds the digest of the code its kind runs (:mod:`bloodbank.core.codedeps`):
the fanned-out stages list no modules, and a module edit rewrites the files of the
kinds that import it, so DVC reruns those stages only.

A stage checks its file against params.yaml and the code before it computes anything
(:func:`check_settings`), so a file left stale (``dvc repro -s``, a hand-run stage) stops
the stage with one line instead of recording results under the wrong settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bloodbank.core import paths
from bloodbank.core.codedeps import code_digest
from bloodbank.core.config import Params, load_params
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path, read_json, write_json

# The keys whose values change each fanned-out stage kind's results, and nothing else
# (`runtime` and the dump's network settings change none: tests/test_stage_contracts.py).
KEYS: dict[str, tuple[str, ...]] = {
    "dump": (
        "dump.source",
        "dump.date",
        "dump.local_pattern",
        "dump.mirror",
        "dump.checksum",
        "dump.streams",
        "synthetic",
    ),
    "extract": ("extract",),
    "sample": ("sample",),
    "stats": ("sample.min_sentence_chars", "stats"),
    "tokenize": (),  # no key: its file holds the code it runs
    "mono": ("seed", "replicates", "model", "train", "eval"),
    # the test masks (train's masking keys, eval's batching and mask seed) and proxies
    "zeroshot": (
        "replicates",
        "train.max_length",
        "train.mlm_probability",
        "train.mask_token_fraction",
        "train.random_token_fraction",
        "train.threads",
        "eval.batch_size",
        "eval.max_tokens",
        "eval.mask_seed",
        "eval.masking",
        "proxies",
    ),
    # a pair's model is its source's: no `model`; only pairs read `pair_recipe`
    "pair": ("seed", "replicates", "train", "pair_recipe", "eval"),
    # the downstream pipeline's pretraining text (downstream/dvc.yaml)
    "sample_pretrain": (
        "sample.seed",
        "sample.min_sentence_chars",
        "sample.allow_short",
        "downstream.total_chars",
        "downstream.sizes.most_recipient",
        "downstream.sizes.least_recipient",
        "downstream.preset",
        "downstream.explicit",
    ),
}


class StaleSettingsError(BloodbankError, RuntimeError):
    """A stage's settings file does not hold params.yaml's current values."""


def declared() -> list[str]:
    """The settings stage's params: every kind's keys, a key inside a declared section
    left out (``train`` covers ``train.threads``), in a fixed order."""
    keys = sorted({k for kind in KEYS.values() for k in kind})
    return [k for k in keys if not any(k.startswith(f"{other}.") for other in keys)]


def values(params: Params, kind: str) -> dict[str, Any]:
    """The values of ``kind``'s keys, as DVC would record them (dotted key -> value)."""
    if kind not in KEYS:
        raise KeyError(f"no settings for stage kind {kind!r}; kinds: {', '.join(KEYS)}")
    tree = params.model_dump(mode="json")
    out = {}
    for key in KEYS[kind]:
        node: Any = tree
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def settings_file(folder: Path, kind: str) -> Path:
    return Path(folder) / f"{kind}.json"


def script(kind: str) -> Path:
    """The stage script of ``kind``, relative to the repository root."""
    return Path("stages") / f"{kind}.py"


def write_settings(params: Params, folder: Path, *, root: Path = Path()) -> list[Path]:
    """One file per kind in ``folder``, replaced as a whole (atomic); returns them.

    ``root`` is the repository whose code is digested (default: the working directory,
    where DVC runs every stage)."""
    with atomic_path(folder, is_dir=True) as tmp:
        for kind in KEYS:
            write_json(
                settings_file(tmp, kind),
                {
                    "kind": kind,
                    "values": values(params, kind),
                    "code": code_digest(script(kind), root),
                },
            )
    return [settings_file(folder, kind) for kind in KEYS]


def check_settings(params: Params, kind: str, folder: Path, *, root: Path = Path()) -> None:
    """Refuse to run ``kind`` under settings or code other than its dependency records."""
    path = settings_file(folder, kind)
    try:
        doc = read_json(path)
        found, code = doc["values"], doc["code"]
    except FileNotFoundError:
        raise StaleSettingsError(
            f"{path} is missing: run `dvc repro` (the settings stage writes it)"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise StaleSettingsError(f"{path} is not a settings file: run `dvc repro`") from None
    now = values(params, kind)
    changed = sorted(k for k in now.keys() | found.keys() if now.get(k) != found.get(k))
    if changed:
        raise StaleSettingsError(
            f"{path} does not follow params.yaml ({', '.join(changed)}): run `dvc repro`, "
            "which runs the settings stage first"
        )
    runs = code_digest(script(kind), root)
    edited = sorted(f for f in runs.keys() | code.keys() if runs.get(f) != code.get(f))
    if edited:
        raise StaleSettingsError(
            f"{path} does not follow the code ({', '.join(edited)}): run `dvc repro`, "
            "which runs the settings stage first"
        )


def load_checked(kind: str, folder: Path = paths.SETTINGS) -> Params:
    """params.yaml for a fanned-out stage of ``kind``, checked against its settings file."""
    params = load_params()
    check_settings(params, kind, folder)
    return params
