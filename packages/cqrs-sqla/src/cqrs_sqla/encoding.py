"""How a message becomes an outbox row and back: JSON body, optional compression,
and the W3C trace context of the writing transaction.

>>> import uuid
>>> from cqrs.compressors.zlib import ZlibCompressor
>>> from cqrs.message_brokers.protocol import Message, payload_from_json, payload_json
>>> message = Message("joined", "users", {"user_id": "u1"}, uuid.uuid4(), key="u1")
>>> body, encoding = encode_payload(message.payload, ZlibCompressor())
>>> encoding, decode_payload(body, encoding)
('zlib', {'user_id': 'u1'})
>>> import datetime
>>> now = datetime.datetime.now(datetime.timezone.utc)
>>> row = {"id": 7, "status": "pending", "attempts": 0, "last_error": None,
...        **outbox_values(message, now)}
>>> outbox_event(row).message == message
True
"""

from __future__ import annotations

import datetime
import typing

from cqrs.compressors.protocol import Compressor
from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.protocol import Message, payload_from_json, payload_json
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.repository import check_message_size

__all__ = (
    "encode_payload",
    "decode_payload",
    "stored_json",
    "outbox_values",
    "outbox_event",
    "message_headers",
)

_DECOMPRESSORS: dict[str, Compressor] = {"zlib": ZlibCompressor()}
_STATUSES = {status.value: status for status in OutboxStatus}


def encode_payload(
    payload: typing.Mapping[str, typing.Any], compressor: Compressor | None
) -> tuple[bytes, str | None]:
    """The stored body of `payload` and its content encoding (`None`: plain JSON)."""
    return _stored(payload_json(payload), compressor)


def _stored(body: bytes, compressor: Compressor | None) -> tuple[bytes, str | None]:
    """The payload JSON `body` as stored, and its content encoding."""
    if compressor is None:
        return body, None
    return compressor.compress(body), compressor.name


def decode_payload(
    body: bytes, content_encoding: str | None, compressor: Compressor | None = None
) -> dict[str, typing.Any]:
    """The payload dict stored as `body`."""
    return payload_from_json(stored_json(body, content_encoding, compressor))


def stored_json(
    body: bytes, content_encoding: str | None, compressor: Compressor | None = None
) -> bytes:
    """The payload JSON stored as `body`, decompressed if it was compressed."""
    if content_encoding is None:
        return body
    if compressor is not None and compressor.name == content_encoding:
        return compressor.decompress(body)
    if content_encoding in _DECOMPRESSORS:
        return _DECOMPRESSORS[content_encoding].decompress(body)
    raise ValueError(
        f"outbox row is encoded with {content_encoding!r}; pass a compressor with "
        f"that name to read it"
    )


def outbox_values(
    message: Message,
    now: datetime.datetime,
    compressor: Compressor | None = None,
    *,
    max_message_bytes: int | None = None,
) -> dict[str, typing.Any]:
    """Column values of the outbox row that stores `message`, written at `now`.

    `status` and `attempts` are left to their column defaults (pending, none).
    With `max_message_bytes`, a message whose payload JSON and key come to more
    raises `cqrs.EventTooLargeError` (measured before compression: brokers are
    sent the JSON).
    """
    json_body = payload_json(message.payload)
    if max_message_bytes is not None:
        check_message_size(message, json_body, max_message_bytes)
    body, content_encoding = _stored(json_body, compressor)
    return {
        "event_id": message.message_id,
        "event_name": message.message_name,
        "topic": message.topic,
        "partition_key": message.key,
        "payload": body,
        "content_encoding": content_encoding,
        # The writer's W3C trace context, which `Message.from_event` captured.
        "traceparent": message.headers.get("traceparent"),
        "tracestate": message.headers.get("tracestate"),
        "created_at": now,
        "next_attempt_at": now,
    }


def message_headers(traceparent: str | None, tracestate: str | None) -> dict[str, str]:
    """The headers of a message read back from an outbox row: its trace context."""
    if traceparent is None and tracestate is None:
        return {}
    stored = {"traceparent": traceparent, "tracestate": tracestate}
    return {name: value for name, value in stored.items() if value}


def outbox_event(
    row: typing.Mapping[typing.Any, typing.Any], compressor: Compressor | None = None
) -> OutboxedEvent:
    """The outbox row `row` (column name -> value, as a driver record or an
    SQLAlchemy row mapping gives it) read back as an `OutboxedEvent`."""
    # This runs for every row a relay claims: the payload stays JSON until read.
    message = Message.from_json(
        row["event_name"],
        row["topic"],
        stored_json(row["payload"], row["content_encoding"], compressor),
        row["event_id"],
        row["partition_key"],
        message_headers(row["traceparent"], row["tracestate"]),
    )
    return OutboxedEvent(
        row["id"],
        message,
        row["created_at"],
        _STATUSES[row["status"]],
        row["attempts"],
        row["next_attempt_at"],
        row["last_error"],
    )
