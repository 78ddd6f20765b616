"""large_buffers: allocator settings on inside the block, put back after it."""

import os
import sys

import pytest
import torch

from bloodbank.memory import THP, large_buffers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_settings_apply_inside_and_are_restored(monkeypatch):
    monkeypatch.setenv(THP, "0")
    with large_buffers() as active:
        assert active and os.environ[THP] == "1"
        big = torch.ones(8_000_000)
        assert float(big.sum()) == 8_000_000.0
    assert os.environ[THP] == "0"
    monkeypatch.delenv(THP)
    with large_buffers():
        pass
    assert THP not in os.environ


def test_disabled_changes_nothing(monkeypatch):
    monkeypatch.delenv(THP, raising=False)
    with large_buffers(enabled=False) as active:
        assert not active and THP not in os.environ
