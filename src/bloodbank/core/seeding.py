"""Seeds derived from names, so every random draw is a pure function of what it is for.

``seed_of("init", "qaa", 0)`` is the same integer on every run, process and machine:
a stage resumed, rerun in another process or on another node draws exactly the same.
"""

from __future__ import annotations

import zlib


def seed_of(*keys: int | str) -> int:
    """A 32-bit seed from a tuple of keys, stable across runs, processes and machines."""
    return zlib.crc32(":".join(str(k) for k in keys).encode())
