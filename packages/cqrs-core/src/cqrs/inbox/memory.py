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

import asyncio
import collections.abc
import contextlib
import datetime
import types
import typing
import uuid

from typing_extensions import Self

from cqrs.clock import utc_now
from cqrs.exceptions import ConfigurationError, CQRSError
from cqrs.inbox.repository import InboxRecord, check_cutoff, check_key

__all__ = ("MemoryInbox", "MemoryInboxSession", "InboxDeadlockError")

_Key = tuple[str, uuid.UUID]


class InboxDeadlockError(CQRSError):
    """Two open transactions each wait for a record the other holds.

    A database aborts one of them the same way; roll back and retry.
    """


class _Transaction:
    """The records one open transaction wrote, and an event set when it ends."""

    def __init__(self) -> None:
        self.staged: dict[_Key, datetime.datetime] = {}
        self.ended: asyncio.Event = asyncio.Event()


class _Ledger:
    """The state one `MemoryInbox` and its sessions share."""

    def __init__(self, clock: typing.Callable[[], datetime.datetime]) -> None:
        self.clock = clock
        self.records: dict[_Key, InboxRecord] = {}
        self.pending: dict[_Key, _Transaction] = {}
        self.transactions: dict[MemoryInboxSession, _Transaction] = {}
        self.waits: dict[_Transaction, _Transaction] = {}  # waiter -> holder

    def begin(self, session: MemoryInboxSession) -> None:
        if session in self.transactions:
            raise ConfigurationError(
                "a transaction is already open on this session; commit or roll it back first."
            )
        self.transactions[session] = _Transaction()

    async def record(self, session: MemoryInboxSession, key: _Key) -> bool:
        while True:
            if key in self.records:
                return False
            holder = self.pending.get(key)
            if holder is None:
                break
            mine = self.transactions.get(session)
            if holder is mine:
                return False
            await self.wait(mine, holder)
        received_at = self.clock()
        if received_at.utcoffset() is None:
            raise ValueError(f"the clock gave a naive datetime {received_at!r}")
        # Autobegin, as a database session does on its first statement.
        transaction = self.transactions.setdefault(session, _Transaction())
        transaction.staged[key] = received_at
        self.pending[key] = transaction
        return True

    async def wait(self, waiter: _Transaction | None, holder: _Transaction) -> None:
        """Wait for `holder` to end; raise if it (indirectly) waits for `waiter`."""
        if waiter is None:
            await holder.ended.wait()
            return
        cursor: _Transaction | None = holder
        while cursor is not None:
            if cursor is waiter:
                raise InboxDeadlockError(
                    "two open transactions wait for each other's inbox records; "
                    "roll this one back and retry it."
                )
            cursor = self.waits.get(cursor)
        self.waits[waiter] = holder
        try:
            await holder.ended.wait()
        finally:
            del self.waits[waiter]

    def end(self, session: MemoryInboxSession, *, commit: bool) -> None:
        transaction = self.transactions.pop(session, None)
        if transaction is None:
            return
        for key, received_at in transaction.staged.items():
            del self.pending[key]
            if commit:
                self.records[key] = InboxRecord(key[0], key[1], received_at)
        transaction.ended.set()


class MemoryInboxSession:
    """A unit of work on a `MemoryInbox`, shaped like SQLAlchemy's `AsyncSession`.

    `begin()` opens a transaction that commits when its block ends and rolls
    back when it raises; `record` on a session without one opens it
    (autobegin) and `commit()`/`rollback()` end it. Leaving `async with
    session` rolls back whatever was not committed.
    """

    def __init__(self, inbox: MemoryInbox, ledger: _Ledger) -> None:
        self.inbox = inbox
        self._ledger = ledger

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (begun, or autobegun by `record`)."""
        return self in self._ledger.transactions

    @contextlib.asynccontextmanager
    async def begin(self) -> collections.abc.AsyncGenerator[Self, None]:
        """Open a transaction: commit it when the block ends, roll back if it raises.

        Raises `ConfigurationError` when a transaction is already open.
        """
        self._ledger.begin(self)
        try:
            yield self
        except BaseException:
            await self.rollback()
            raise
        await self.commit()

    async def commit(self) -> None:
        """Make the transaction's records permanent (nothing to do without one)."""
        self._ledger.end(self, commit=True)

    async def rollback(self) -> None:
        """Drop the transaction's records (nothing to do without one)."""
        self._ledger.end(self, commit=False)

    async def close(self) -> None:
        """Roll back what was not committed; the session can be used again."""
        await self.rollback()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()


class MemoryInbox:
    """`InboxRepository` over a dict; `handled()` and `records()` show what committed.

    `clock` stamps each record's `received_at`; `purge` drops records older
    than a cutoff.
    """

    def __init__(self, clock: typing.Callable[[], datetime.datetime] = utc_now) -> None:
        self._ledger = _Ledger(clock)

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
        return await self._ledger.record(session, (consumer, message_id))

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
