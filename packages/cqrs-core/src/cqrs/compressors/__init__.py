"""Compressors for stored payloads (the outbox compresses event bodies with one).

>>> from cqrs.compressors import zlib
>>> compressor = zlib.ZlibCompressor()
>>> compressor.decompress(compressor.compress(b"hello")) == b"hello"
True
"""

from cqrs.compressors.protocol import Compressor
from cqrs.compressors.zlib import ZlibCompressor

__all__ = ("Compressor", "ZlibCompressor")
