"""`protobuf_value_serializer`: an event's protobuf form, as record bytes.

An event opts in by defining `proto()`, returning its generated protobuf
message (python-cqrs's convention). python-cqrs framed the bytes for
Confluent's schema registry; this writes the plain protobuf encoding
(`SerializeToString()`), which any consumer holding the `.proto` reads.

>>> class FakeProto:
...     def SerializeToString(self) -> bytes:
...         return b"\\x0a\\x02u1"
>>> class Joined:
...     def proto(self) -> FakeProto:
...         return FakeProto()
>>> protobuf_value_serializer(Joined())
b'\\n\\x02u1'
"""

from __future__ import annotations

import typing

__all__ = ("protobuf_value_serializer", "ProtoEvent")


class _ProtoMessage(typing.Protocol):
    def SerializeToString(self) -> bytes: ...


class ProtoEvent(typing.Protocol):
    """An event that has a protobuf form."""

    def proto(self) -> _ProtoMessage:
        """The event as its generated protobuf message."""
        ...


def protobuf_value_serializer(event: ProtoEvent) -> bytes:
    """The protobuf encoding of `event.proto()`."""
    return event.proto().SerializeToString()
