"""The environment every stage runs in: silent network, local caches, pinned CPU kernels.

Libraries write caches into the home folder and some phone home: MLflow's telemetry
looks up its host on import, matplotlib builds a font cache in ``~/.cache``. A stage
must make no network call but the dump, UD or mirror URLs it is configured with, and
write nothing outside the repository but documented caches.

On x86-64, PyTorch, oneDNN and MKL pick their kernels by the CPU, and kernels for other
CPUs sum in another order: the same commit would give other last digits on another
machine. Two things differ. The instruction set: AVX-512 kernels round differently from
AVX2 ones, so every stage caps ATen and oneDNN at AVX2, which every x86-64 CPU of the
last decade has. The vendor: MKL, which does torch's matrix products, runs other code
on Intel and AMD CPUs even at one instruction set (and tunes to the cache sizes), so
every stage also selects MKL's COMPATIBLE reproducibility branch, which Intel
documents as giving the same bits on any x86-64 CPU, at a fixed thread count (MKL's
own thread adjustment off). ``LBB_CPU_KERNELS=native`` opts out, for speed (results
then differ in the last digits from the committed ones).

Called before a stage or an ``lbb`` command imports anything heavy (the caps are read
when the libraries load); values the user set are kept.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from bloodbank.core.errors import BloodbankError

CACHE = Path(".cache")  # the repository's own cache folder (git-ignored)

SILENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# The same kernels on every x86-64 CPU, Intel or AMD (the first is read by ATen, the
# second by oneDNN, the others by MKL, each when it first runs).
PINNED_KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
    "MKL_DYNAMIC": "FALSE",
}
KERNELS_SETTING = "LBB_CPU_KERNELS"  # avx2 (default) | native


class KernelSettingError(BloodbankError, ValueError):
    """LBB_CPU_KERNELS holds something other than avx2 or native."""


def kernel_variables() -> dict[str, str]:
    """The settings that pin CPU kernels (AVX2, MKL's COMPATIBLE branch), unless
    ``LBB_CPU_KERNELS=native`` or the CPU is not x86-64 (an ARM CPU has its own kernels:
    same rankings, not the same bytes)."""
    choice = os.environ.get(KERNELS_SETTING, "avx2").lower()
    if choice not in ("avx2", "native"):
        raise KernelSettingError(f"{KERNELS_SETTING} must be avx2 or native, not {choice!r}")
    if choice == "native" or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    return dict(PINNED_KERNELS)


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
    return {**SILENT, **caches, **kernel_variables()}


def offline_environment(root: Path | None = None) -> None:
    """Set :func:`offline_variables` in this process, keeping values the user set."""
    for key, value in offline_variables(root).items():
        os.environ.setdefault(key, value)
