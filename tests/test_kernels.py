"""The CPU kernels every stage runs: AVX2 on any x86-64 CPU, so that one commit gives the
same bytes on AVX2-only and AVX-512 machines (bloodbank.core.offline)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from bloodbank.core.offline import PINNED_KERNELS, kernel_variables, offline_variables

X86 = platform.machine().lower() in ("x86_64", "amd64")
CAPS = list(PINNED_KERNELS)


def test_stages_pin_avx2_kernels_unless_told_native(monkeypatch):
    monkeypatch.delenv("LBB_CPU_KERNELS", raising=False)
    assert kernel_variables() == (PINNED_KERNELS if X86 else {})
    assert offline_variables().items() >= kernel_variables().items()
    monkeypatch.setenv("LBB_CPU_KERNELS", "native")
    assert kernel_variables() == {}
    monkeypatch.setenv("LBB_CPU_KERNELS", "avx512")
    with pytest.raises(ValueError, match="LBB_CPU_KERNELS must be avx2 or native"):
        kernel_variables()
    bad = {**os.environ, "LBB_CPU_KERNELS": "avx512"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=bad, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr == "error: LBB_CPU_KERNELS must be avx2 or native, not 'avx512'\n"


PROBE = """
from bloodbank.core.stagekit import run_main
def main(argv):
    import torch
    print(torch.backends.cpu.get_cpu_capability())
run_main(main)
"""


@pytest.mark.skipif(not X86, reason="the pin applies to x86-64 CPUs")
def test_a_stage_runs_the_avx2_kernels():
    env = {k: v for k, v in os.environ.items() if k not in [*CAPS, "LBB_CPU_KERNELS"]}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "AVX2"


def outputs(repo) -> dict[str, bytes]:
    files = [*(repo / "models/mono/qaa").iterdir(), repo / "metrics/mono/qaa.json"]
    return {f.name: f.read_bytes() for f in sorted(files)}


@pytest.mark.slow  # a mono training in a fresh process
@pytest.mark.e2e
@pytest.mark.skipif(not X86, reason="the pin applies to x86-64 CPUs")
def test_the_default_pin_gives_the_bytes_of_the_caps_set_by_hand(built_copy):
    """The tiny pipeline was built with the default pin; a mono training rerun with the
    pinning variables set by hand (and the pin itself turned off) writes the very same bytes."""
    repo = built_copy
    before = outputs(repo)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"LBB_CPU_KERNELS": "native", **PINNED_KERNELS, "DVC_STAGE": "mono@qaa"}
    subprocess.run(
        [sys.executable, "-P", "stages/mono.py"], cwd=repo, env=env, check=True, capture_output=True
    )
    assert outputs(repo) == before
