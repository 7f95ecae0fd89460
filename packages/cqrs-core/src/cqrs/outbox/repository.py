"""The outbox port: store events in the caller's transaction, publish them later.

A command handler opens the repository (`async with outbox as session`), does
its writes on `session`, adds its notification events with `outbox.add`, and
commits once: the events exist exactly when the business data does.

An event a broker could never take is refused when it is added, not stored
to fail in the relay for ever: `add` raises `EventTooLargeError` when the
event's payload JSON and key come to more than the repository's
`max_message_bytes` (by default `DEFAULT_MAX_MESSAGE_BYTES`: Kafka's default
request size, 1 MiB, less 16 KiB for the record's headers and framing).

>>> import asyncio, pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.outbox.map import OutboxedEventMap
>>> from cqrs.outbox.memory import MemoryOutbox
>>> class Joined(pydantic.BaseModel):
...     user_id: str
>>> OutboxedEventMap.register("repo_doc_joined", NotificationEvent[Joined])
>>> outbox = MemoryOutbox()
>>> async def join() -> None:
...     async with outbox as session:
...         event = NotificationEvent[Joined](
...             event_name="repo_doc_joined", topic="users", payload=Joined(user_id="u1")
...         )
...         outbox.add(session, event, key="u1")
...         await outbox.commit(session)
>>> asyncio.run(join())
>>> [row.message.key for row in outbox.rows()]
['u1']
"""

from __future__ import annotations

import types
import typing

from typing_extensions import TypeVar

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError, EventTooLargeError
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.map import OutboxedEventMap
from cqrs.tracing import telemetry_recording

__all__ = (
    "DEFAULT_MAX_MESSAGE_BYTES",
    "OutboxedEventRepository",
    "UnregisteredEventError",
    "check_message_size",
    "outbox_message",
)

SessionT = TypeVar("SessionT", default=typing.Any)

DEFAULT_MAX_MESSAGE_BYTES: typing.Final = 1_048_576 - 16_384
"""The largest event an outbox stores unless told otherwise, in bytes of payload JSON
and key: the Kafka producer's default `max_request_size` (1 MiB) less 16 KiB left for
the record's headers (id, name, content type, trace context) and framing."""


class UnregisteredEventError(ConfigurationError):
    """The outbox was given an event whose name `OutboxedEventMap` does not know."""


class OutboxedEventRepository(typing.Protocol[SessionT]):
    """Writes events into the outbox within the caller's transaction (`SessionT`)."""

    async def __aenter__(self) -> SessionT:
        """Open a transaction and return its session."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        """Close the session, rolling back whatever was not committed."""
        ...

    def add(
        self, session: SessionT, event: NotificationEvent[typing.Any], *, key: str | None = None
    ) -> None:
        """Stage `event` in `session`'s transaction, under partition key `key`.

        Raises, before touching the session, `UnregisteredEventError` when the
        event's name is not registered in `OutboxedEventMap`, and
        `EventTooLargeError` when its payload JSON and key come to more than
        the repository's `max_message_bytes`.
        """
        ...

    async def commit(self, session: SessionT | None = None) -> None:
        """Commit the transaction (the open session's when `session` is omitted)."""
        ...

    async def rollback(self, session: SessionT | None = None) -> None:
        """Roll the transaction back; its events are dropped with it."""
        ...


def outbox_message(event: NotificationEvent[typing.Any], key: str | None) -> Message:
    """The message the outbox stores for `event`; checks that its name is registered."""
    if OutboxedEventMap.get(event.event_name) is None:
        raise UnregisteredEventError(
            f"event name {event.event_name!r} is not registered for the outbox; call "
            f"cqrs.OutboxedEventMap.register({event.event_name!r}, {type(event).__qualname__}) "
            f"at import time."
        )
    message = Message.from_event(event, key)
    if telemetry_recording():
        from cqrs.telemetry.outbox import traced_write  # the `otel` extra: imported only with it

        return traced_write(message)
    return message


def check_message_size(message: Message, body: bytes, max_bytes: int) -> None:
    """Raise `EventTooLargeError` when `message`, whose payload JSON is `body`, comes to
    more than `max_bytes` bytes with its key.

    >>> message = Message("joined", "users", {"user_id": "u1"}, key="u1")
    >>> check_message_size(message, b'{"user_id":"u1"}', max_bytes=18)
    >>> check_message_size(message, b'{"user_id":"u1"}', max_bytes=17)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    cqrs.exceptions.EventTooLargeError: event 'joined' is 18 bytes encoded, above ...
    """
    size = len(body)
    if message.key is not None:
        # Keys are text; a lone surrogate must not make the check itself fail.
        size += len(message.key.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise EventTooLargeError(message.message_name, size, max_bytes)
