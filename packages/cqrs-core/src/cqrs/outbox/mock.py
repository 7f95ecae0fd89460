"""python-cqrs's in-memory outbox for tests (`cqrs.outbox.mock`).

`MockOutboxedEventRepository` is `MemoryOutbox`, built as python-cqrs built
its mock: `MockOutboxedEventRepository(session_factory=dict)`. The factory
is accepted and not needed; sessions, commit and rollback work as
`MemoryOutbox`'s do (added events appear only when their session commits).

>>> outbox = MockOutboxedEventRepository(session_factory=dict)
>>> outbox.rows()
[]
"""

from __future__ import annotations

import datetime
import typing

from cqrs.clock import utc_now
from cqrs.outbox.memory import MemoryOutbox

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
