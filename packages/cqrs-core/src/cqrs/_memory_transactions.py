"""Records kept in process memory with a database's transactions, for the in-memory ports.

A `Ledger` holds committed records by key, and what each open transaction
staged. A record staged by one transaction is invisible to others until it
commits; a second transaction inserting the same key waits for the first to
end, as a database writer waits on a row lock, and two transactions waiting
for each other get the ledger's deadlock error. `MemorySession` is the unit
of work over a ledger, shaped like SQLAlchemy's `AsyncSession`.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import types
import typing

from typing_extensions import Self

from cqrs.exceptions import ConfigurationError

__all__ = ("Ledger", "MemorySession")

K = typing.TypeVar("K", bound=collections.abc.Hashable)
V = typing.TypeVar("V")


class _Transaction(typing.Generic[K, V]):
    """The records one open transaction staged, and an event set when it ends."""

    def __init__(self) -> None:
        self.staged: dict[K, V] = {}
        self.ended: asyncio.Event = asyncio.Event()


class Ledger(typing.Generic[K, V]):
    """Committed records, and the transactions staging more; see the module docstring."""

    def __init__(self, deadlock: typing.Callable[[str], Exception]) -> None:
        self.records: dict[K, V] = {}
        self._deadlock = deadlock
        self._pending: dict[K, _Transaction[K, V]] = {}
        self._transactions: dict[MemorySession, _Transaction[K, V]] = {}
        self._waits: dict[_Transaction[K, V], _Transaction[K, V]] = {}  # waiter -> holder

    def in_transaction(self, session: MemorySession) -> bool:
        return session in self._transactions

    def begin(self, session: MemorySession) -> None:
        if session in self._transactions:
            raise ConfigurationError(
                "a transaction is already open on this session; commit or roll it back first."
            )
        self._transactions[session] = _Transaction()

    async def insert(self, session: MemorySession, key: K, make: typing.Callable[[], V]) -> bool:
        """Stage `make()` under `key` in the session's transaction unless a record of the
        key is committed or staged by it (`False`); wait while another transaction holds
        the key."""
        while True:
            if key in self.records:
                return False
            holder = self._pending.get(key)
            if holder is None:
                break
            mine = self._transactions.get(session)
            if holder is mine:
                return False
            await self._wait(mine, holder)
        value = make()
        # Autobegin, as a database session does on its first statement.
        transaction = self._transactions.setdefault(session, _Transaction())
        transaction.staged[key] = value
        self._pending[key] = transaction
        return True

    def read(self, session: MemorySession, key: K) -> V | None:
        """The record of `key` as the session's transaction sees it."""
        transaction = self._transactions.get(session)
        if transaction is not None and key in transaction.staged:
            return transaction.staged[key]
        return self.records.get(key)

    def restage(self, session: MemorySession, key: K, value: V) -> bool:
        """Replace the record the session's transaction staged under `key`; `False` when
        it staged none."""
        transaction = self._transactions.get(session)
        if transaction is None or key not in transaction.staged:
            return False
        transaction.staged[key] = value
        return True

    async def _wait(self, waiter: _Transaction[K, V] | None, holder: _Transaction[K, V]) -> None:
        """Wait for `holder` to end; raise if it (indirectly) waits for `waiter`."""
        if waiter is None:
            await holder.ended.wait()
            return
        cursor: _Transaction[K, V] | None = holder
        while cursor is not None:
            if cursor is waiter:
                raise self._deadlock(
                    "two open transactions wait for each other's records; "
                    "roll this one back and retry it."
                )
            cursor = self._waits.get(cursor)
        self._waits[waiter] = holder
        try:
            await holder.ended.wait()
        finally:
            del self._waits[waiter]

    def end(self, session: MemorySession, *, commit: bool) -> None:
        transaction = self._transactions.pop(session, None)
        if transaction is None:
            return
        for key, value in transaction.staged.items():
            del self._pending[key]
            if commit:
                self.records[key] = value
        transaction.ended.set()


class MemorySession:
    """A unit of work on a `Ledger`, shaped like SQLAlchemy's `AsyncSession`.

    `begin()` opens a transaction that commits when its block ends and rolls
    back when it raises; a write on a session without one opens it
    (autobegin) and `commit()`/`rollback()` end it. Leaving `async with
    session` rolls back whatever was not committed.
    """

    def __init__(self, ledger: Ledger[typing.Any, typing.Any]) -> None:
        self._ledger = ledger

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (begun, or autobegun by a write)."""
        return self._ledger.in_transaction(self)

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
