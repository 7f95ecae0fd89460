"""`ZlibCompressor`: the standard library's zlib, at a configurable level.

>>> ZlibCompressor(level=9).name
'zlib'
"""

from __future__ import annotations

import zlib as _zlib

__all__ = ("ZlibCompressor",)


class ZlibCompressor:
    """A `Compressor` on zlib; level 1 (fast) to 9 (small), 6 by default."""

    name = "zlib"

    def __init__(self, level: int = 6) -> None:
        if not 0 <= level <= 9:
            raise ValueError(f"zlib level must be 0 to 9, got {level}")
        self.level = level

    def compress(self, data: bytes) -> bytes:
        """Return `data` compressed."""
        return _zlib.compress(data, self.level)

    def decompress(self, data: bytes) -> bytes:
        """Return what `compress` was given."""
        return _zlib.decompress(data)
