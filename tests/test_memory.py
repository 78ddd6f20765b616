"""large_buffers: allocator settings on inside the block, glibc's defaults after it."""

import sys

import pytest
import torch

from bloodbank.mlm import memory
from bloodbank.mlm.memory import large_buffers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_only_the_outermost_block_sets_and_restores(monkeypatch):
    calls = []
    real = memory._glibc()

    class Spy:
        def mallopt(self, option, value):
            calls.append((option, value))
            return real.mallopt(option, value)

        def malloc_trim(self, pad):
            calls.append(("trim", pad))
            return real.malloc_trim(pad)

    monkeypatch.setattr(memory, "_glibc", lambda: Spy())
    with large_buffers() as active:
        assert active and calls == [(memory.M_MMAP_MAX, 0), (memory.M_TRIM_THRESHOLD, 2**31 - 1)]
        with large_buffers():
            big = torch.ones(8_000_000)
            assert float(big.sum()) == 8_000_000.0
        assert len(calls) == 2  # the inner block left the settings alone
    assert calls[2:] == [
        (memory.M_MMAP_MAX, memory.GLIBC_MMAP_MAX),
        (memory.M_TRIM_THRESHOLD, memory.GLIBC_TRIM_THRESHOLD),
        ("trim", 0),
    ]
    assert memory._depth == 0


def test_disabled_changes_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: pytest.fail("glibc touched"))
    with large_buffers(enabled=False) as active:
        assert not active
