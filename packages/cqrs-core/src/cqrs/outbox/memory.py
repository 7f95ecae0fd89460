"""`MemoryOutbox`: the outbox in process memory, for tests and single-process use.

It keeps the transactional contract: events added in a session appear only
when that session commits, and vanish on rollback or on leaving the `async
with` block without committing.

>>> import asyncio, pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.outbox.map import OutboxedEventMap
>>> class Left(pydantic.BaseModel):
...     user_id: str
>>> OutboxedEventMap.register("memory_doc_left", NotificationEvent[Left])
>>> outbox = MemoryOutbox()
>>> async def leave_without_commit() -> None:
...     async with outbox as session:
...         outbox.add(session, NotificationEvent[Left](
...             event_name="memory_doc_left", topic="users", payload=Left(user_id="u1")))
>>> asyncio.run(leave_without_commit())
>>> outbox.rows()
[]
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.repository import outbox_message

__all__ = ("MemoryOutbox", "MemoryOutboxSession")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclasses.dataclass
class MemoryOutboxSession:
    """One open transaction: the messages it staged."""

    staged: list[Message] = dataclasses.field(default_factory=lambda: list[Message]())


class MemoryOutbox:
    """`OutboxedEventRepository` over a list; `rows()` shows what was committed."""

    def __init__(self, clock: typing.Callable[[], datetime.datetime] = _now) -> None:
        self._clock = clock
        self._rows: list[OutboxedEvent] = []
        self._session: MemoryOutboxSession | None = None

    async def __aenter__(self) -> MemoryOutboxSession:
        self._session = MemoryOutboxSession()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self._session = None

    def add(
        self,
        session: MemoryOutboxSession,
        event: NotificationEvent[typing.Any],
        *,
        key: str | None = None,
    ) -> None:
        session.staged.append(outbox_message(event, key))

    async def commit(self, session: MemoryOutboxSession | None = None) -> None:
        session = self._open(session)
        self.stage(session.staged)
        session.staged.clear()

    async def rollback(self, session: MemoryOutboxSession | None = None) -> None:
        self._open(session).staged.clear()

    def stage(self, messages: typing.Iterable[Message]) -> None:
        """Store `messages` at once, as part of a write the caller makes atomic.

        Saga storages call this in the same step as the saga state they record.
        """
        now = self._clock()
        for message in messages:
            self._rows.append(OutboxedEvent(len(self._rows) + 1, message, now))

    def rows(self, status: OutboxStatus | None = None) -> list[OutboxedEvent]:
        """Committed rows in write order, optionally only those in `status`."""
        return [row for row in self._rows if status is None or row.status is status]

    def messages(self, topic: str | None = None) -> list[Message]:
        """Committed messages in write order, optionally only those for `topic`."""
        return [row.message for row in self._rows if topic is None or row.message.topic == topic]

    def _open(self, session: MemoryOutboxSession | None) -> MemoryOutboxSession:
        session = session or self._session
        if session is None:
            raise ConfigurationError(
                "no outbox session is open; use `async with outbox as session:` and pass it."
            )
        return session
