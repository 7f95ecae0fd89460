"""`MemoryInbox`: the inbox in process memory, for unit tests and single-process use.

It keeps the transactional contract of a database inbox. A session
(`inbox.session()`) stands for a database session: a record written in its
transaction becomes visible when the transaction commits and vanishes when
it rolls back (or when the session closes without committing). A second
session recording a message that an unfinished transaction holds waits for
that transaction to end, as a database writer waits on a row lock.

>>> import asyncio, uuid
>>> inbox = MemoryInbox()
>>> message_id = uuid.uuid4()
>>> async def deliver(fail: bool) -> bool:
...     async with inbox.session() as session, session.begin():
...         recorded = await inbox.record(session, "billing", message_id)
...         if fail:
...             raise RuntimeError("the handler failed")
...         return recorded
>>> asyncio.run(deliver(fail=True))
Traceback (most recent call last):
    ...
RuntimeError: the handler failed
>>> inbox.handled("billing", message_id)  # rolled back with the handler
False
>>> asyncio.run(deliver(fail=False)), asyncio.run(deliver(fail=False))
(True, False)
"""

from __future__ import annotations

import datetime
import typing
import uuid

from cqrs._memory_transactions import Ledger, MemorySession
from cqrs.clock import aware_now, utc_now
from cqrs.exceptions import ConfigurationError, CQRSError
from cqrs.inbox.repository import InboxRecord, check_cutoff, check_key

__all__ = ("MemoryInbox", "MemoryInboxSession", "InboxDeadlockError")

_Key = tuple[str, uuid.UUID]


class InboxDeadlockError(CQRSError):
    """Two open transactions each wait for a record the other holds.

    A database aborts one of them the same way; roll back and retry.
    """


class MemoryInboxSession(MemorySession):
    """A unit of work on a `MemoryInbox`, shaped like SQLAlchemy's `AsyncSession`.

    `begin()` opens a transaction that commits when its block ends and rolls
    back when it raises; `record` on a session without one opens it
    (autobegin) and `commit()`/`rollback()` end it. Leaving `async with
    session` rolls back whatever was not committed.
    """

    def __init__(self, inbox: MemoryInbox, ledger: Ledger[_Key, InboxRecord]) -> None:
        super().__init__(ledger)
        self.inbox = inbox


class MemoryInbox:
    """`InboxRepository` over a dict; `handled()` and `records()` show what committed.

    `clock` stamps each record's `received_at`; `purge` drops records older
    than a cutoff.
    """

    def __init__(self, clock: typing.Callable[[], datetime.datetime] = utc_now) -> None:
        self._clock = clock
        self._ledger: Ledger[_Key, InboxRecord] = Ledger(InboxDeadlockError)

    def session(self) -> MemoryInboxSession:
        """A new session on this inbox (use it as `async with inbox.session() as s`)."""
        return MemoryInboxSession(self, self._ledger)

    async def record(
        self, session: MemoryInboxSession, consumer: str, message_id: uuid.UUID
    ) -> bool:
        """Record `message_id` for `consumer` in `session`'s transaction.

        `True` when new (visible once the transaction commits), `False` when
        `consumer` already handled it. Waits while another session's open
        transaction holds the same record. Raises `InvalidInboxKeyError` for a
        bad key and `ConfigurationError` for a session of another inbox.
        """
        check_key(consumer, message_id)
        if not isinstance(session, MemoryInboxSession) or session.inbox is not self:
            raise ConfigurationError(
                f"{session!r} is not a session of this MemoryInbox; open one with "
                f"`async with inbox.session() as session:`."
            )
        return await self._ledger.insert(
            session,
            (consumer, message_id),
            lambda: InboxRecord(consumer, message_id, aware_now(self._clock)),
        )

    async def purge(self, older_than: datetime.datetime) -> int:
        """Forget committed records received before `older_than`; return how many.

        Raises `ValueError` for a naive `older_than`.
        """
        check_cutoff(older_than)
        records = self._ledger.records
        old = [key for key, record in records.items() if record.received_at < older_than]
        for key in old:
            del records[key]
        return len(old)

    def handled(self, consumer: str, message_id: uuid.UUID) -> bool:
        """Whether a committed record says `consumer` handled `message_id`."""
        return (consumer, message_id) in self._ledger.records

    def records(self, consumer: str | None = None) -> list[InboxRecord]:
        """Committed records in the order they were committed, optionally one consumer's."""
        return [
            record
            for record in self._ledger.records.values()
            if consumer is None or record.consumer == consumer
        ]
