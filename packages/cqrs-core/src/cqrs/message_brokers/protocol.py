"""The message broker port: where notification events leave the service.

>>> import asyncio
>>> class PrintBroker:
...     async def send_message(self, message: Message) -> None:
...         print(message.topic, message.message_name)
>>> message = Message(message_name="joined", topic="users", payload={})
>>> asyncio.run(PrintBroker().send_message(message))
users joined
"""

from __future__ import annotations

import dataclasses
import json
import typing
import uuid

from cqrs.events.event import INotificationEvent
from cqrs.tracing import trace_headers

__all__ = ("Message", "MessageBroker", "BatchMessageBroker", "payload_json", "payload_from_json")

# Built once: `json.dumps` with options builds a new encoder on every call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_JSON = json.JSONDecoder()


def payload_json(payload: typing.Mapping[str, typing.Any]) -> bytes:
    """`payload` as compact UTF-8 JSON: the form the outbox stores and brokers send,
    so a stored body goes out byte for byte as it would have been encoded.

    >>> payload_json({"user_id": "u1", "name": "Zoë"}).decode()
    '{"user_id":"u1","name":"Zoë"}'
    """
    return _COMPACT_JSON.encode(payload).encode()


def payload_from_json(body: bytes) -> dict[str, typing.Any]:
    """The payload whose JSON is `body`.

    >>> payload_from_json(b'{"user_id":"u1"}')
    {'user_id': 'u1'}
    """
    # Decoding to text first skips `json.loads`'s sniffing of the bytes' encoding.
    return typing.cast(dict[str, typing.Any], _JSON.decode(body.decode()))


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One message for the broker.

    `payload` is the event's wire dict; `message_id` its `event_id`, which a
    consumer's inbox uses to drop duplicates; `key` the partition key, so one
    key's messages stay in order; `headers` travel beside the payload (the
    outbox keeps the writer's W3C trace context there).
    """

    message_name: str
    topic: str
    payload: typing.Mapping[str, typing.Any]
    message_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    key: str | None = None
    headers: typing.Mapping[str, str] = dataclasses.field(default_factory=dict[str, str])
    #: The payload as UTF-8 JSON, for a message read back from storage (see
    #: `from_json`); `None` otherwise. A broker that sends JSON can send these
    #: bytes as they are instead of encoding `payload` again.
    body: bytes | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_json(
        cls,
        message_name: str,
        topic: str,
        body: bytes,
        message_id: uuid.UUID,
        key: str | None = None,
        headers: typing.Mapping[str, str] | None = None,
    ) -> Message:
        """The message whose payload is the JSON object `body`, decoded only when
        `payload` is first read: a relay passing stored messages on to a broker that
        takes `body` never decodes them.

        >>> message = Message.from_json("joined", "users", b'{"user_id":"u1"}', uuid.UUID(int=1))
        >>> message.body, message.payload
        (b'{"user_id":"u1"}', {'user_id': 'u1'})
        """
        # Frozen: fields are set as the generated __init__ sets them, but `payload`
        # stays unset, so its first read goes to __getattr__, which decodes `body`.
        # (Not through __init__ and a delete: this runs for every relayed row.)
        message = object.__new__(cls)
        set_field = object.__setattr__
        set_field(message, "message_name", message_name)
        set_field(message, "topic", topic)
        set_field(message, "message_id", message_id)
        set_field(message, "key", key)
        set_field(message, "headers", {} if headers is None else headers)
        set_field(message, "body", body)
        return message

    def __getattr__(self, name: typing.Literal["payload"]) -> typing.Mapping[str, typing.Any]:
        # Only reached while a slot is unset: the payload of a `from_json` message
        # before its first read.
        if name == "payload" and self.body is not None:
            payload = payload_from_json(self.body)
            object.__setattr__(self, "payload", payload)
            return payload
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def from_event(cls, event: INotificationEvent[typing.Any], key: str | None = None) -> Message:
        """The message carrying `event`, with the event's id, name and topic, and the
        current W3C trace context (when OpenTelemetry is in use) as headers."""
        return cls(
            message_name=event.event_name,
            topic=event.topic,
            payload=event.to_dict(),
            message_id=event.event_id,
            key=key,
            headers=trace_headers(),
        )


@typing.runtime_checkable
class MessageBroker(typing.Protocol):
    """Publishes messages to a broker."""

    async def send_message(self, message: Message) -> None:
        """Publish `message` to `message.topic`.

        Returns once the broker has taken the message; raises the adapter's
        error if it could not be published (nothing is retried here).
        """
        ...


@typing.runtime_checkable
class BatchMessageBroker(MessageBroker, typing.Protocol):
    """A broker that can publish many messages without waiting for each one.

    The outbox relay uses `send_batch` when the broker has it: one call per
    claimed batch instead of one round trip per row.
    """

    async def send_batch(
        self, messages: typing.Sequence[Message]
    ) -> typing.Sequence[BaseException | None]:
        """Publish `messages` in order; return one outcome per message (`None` when it
        was published, else the error), in the same order.

        Messages with the same key must reach the broker in the order given.
        """
        ...
