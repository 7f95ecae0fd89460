"""python-cqrs's in-memory outbox for tests (`cqrs.outbox.mock`).

`MockOutboxedEventRepository` is `MemoryOutbox`, built as python-cqrs built
its mock: `MockOutboxedEventRepository(session_factory=dict)`, and read with
its `get_many(topic=...)`. The factory is accepted and not needed: the rows
live in the repository (bind one instance for the whole test), and sessions,
commit and rollback work as `MemoryOutbox`'s do (added events appear only
when their session commits).

>>> outbox = MockOutboxedEventRepository(session_factory=dict)
>>> import asyncio
>>> asyncio.run(outbox.get_many(topic="users"))
[]
"""

from __future__ import annotations

import datetime
import typing

from cqrs.clock import utc_now
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.models import OutboxedEvent, OutboxStatus

__all__ = ("MockOutboxedEventRepository",)


class MockOutboxedEventRepository(MemoryOutbox):
    """`MemoryOutbox` with python-cqrs's constructor."""

    def __init__(
        self,
        session_factory: typing.Callable[[], object] | None = None,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        del session_factory  # MemoryOutbox opens its own sessions
        super().__init__(clock)

    async def get_many(
        self, session: object = None, batch_size: int = 100, topic: str | None = None
    ) -> list[OutboxedEvent]:
        """Up to `batch_size` pending committed rows, of `topic` when given, in write order.

        `session` is python-cqrs's first argument, accepted and not needed.
        """
        del session
        pending = self.rows(OutboxStatus.PENDING)
        return [row for row in pending if topic is None or row.message.topic == topic][:batch_size]
