"""The compressor port: bytes in, fewer bytes out, and back.

>>> class Identity:
...     name = "identity"
...     def compress(self, data: bytes) -> bytes:
...         return data
...     def decompress(self, data: bytes) -> bytes:
...         return data
>>> isinstance(Identity(), Compressor)
True
"""

from __future__ import annotations

import typing

__all__ = ("Compressor",)


@typing.runtime_checkable
class Compressor(typing.Protocol):
    """Compresses payloads; `name` is stored with each payload so it can be read back."""

    name: str

    def compress(self, data: bytes) -> bytes:
        """Return `data` compressed."""
        ...

    def decompress(self, data: bytes) -> bytes:
        """Return what `compress` was given."""
        ...
