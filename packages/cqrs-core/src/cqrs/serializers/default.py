"""`default_serializer`: anything with `to_dict` (or a pydantic model, or plain data) to JSON."""

from __future__ import annotations

import typing

from cqrs.message_brokers.protocol import payload_json

__all__ = ("default_serializer",)


def default_serializer(message: typing.Any) -> bytes:
    """Compact JSON bytes of `message`'s `to_dict()`, `model_dump()`, or of `message` itself."""
    if hasattr(message, "to_dict"):
        return payload_json(message.to_dict())
    if hasattr(message, "model_dump"):
        return payload_json(message.model_dump(mode="json"))
    return payload_json(message)
