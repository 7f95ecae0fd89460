"""The outbox port: store events in the caller's transaction, publish them later.

A command handler opens the repository (`async with outbox as session`), does
its writes on `session`, adds its notification events with `outbox.add`, and
commits once: the events exist exactly when the business data does.

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
from cqrs.exceptions import ConfigurationError
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.map import OutboxedEventMap

__all__ = ("OutboxedEventRepository", "UnregisteredEventError", "outbox_message")

SessionT = TypeVar("SessionT", default=typing.Any)


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

        Raises `UnregisteredEventError` (before touching the session) when the
        event's name is not registered in `OutboxedEventMap`.
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
    return Message.from_event(event, key)
