"""Keep a stage's writes inside the repository and its network silent.

Libraries write caches into the home folder and some phone home: MLflow's telemetry
looks up its host on import, matplotlib builds a font cache in ``~/.cache``. A stage
must make no network call but the dump, UD or mirror URLs it is configured with, and
write nothing outside the repository but documented caches. Called before a stage or an
``lbb`` command does anything; values the user set are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(".cache")  # the repository's own cache folder (git-ignored)

SILENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def offline_variables(root: Path | None = None) -> dict[str, str]:
    """The variables above; inside a DVC repository (a stage always runs in one), also
    the caches pointed into its ``.cache``. Elsewhere (``lbb graph`` on a matrix in any
    folder) the libraries keep their usual caches, and no folder is created here."""
    root = (root or Path.cwd()).resolve()
    caches = {}
    if (root / ".dvc").is_dir():
        caches = {
            "MPLCONFIGDIR": str(root / CACHE / "matplotlib"),
            "HF_HOME": str(root / CACHE / "huggingface"),
        }
    return {**SILENT, **caches}


def offline_environment(root: Path | None = None) -> None:
    """Set :func:`offline_variables` in this process, keeping values the user set."""
    for key, value in offline_variables(root).items():
        os.environ.setdefault(key, value)
