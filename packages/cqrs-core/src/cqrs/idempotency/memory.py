"""`MemoryIdempotencyStore`: the idempotency store in process memory, for unit tests.

It keeps a database store's transactions: a claim is visible to others once
its transaction commits and vanishes when it rolls back, and a second claim
of the same key waits for the first transaction to end.

>>> import asyncio
>>> from cqrs.idempotency.store import IdempotentRequest, fingerprint
>>> store = MemoryIdempotencyStore()
>>> request = IdempotentRequest("customer-7", "k-1", fingerprint(b"{}"))
>>> async def crash_then_retry() -> tuple[str | None, str | None]:
...     async with store.session() as session:
...         first = await store.claim(session, request)  # the crash: never committed
...     async with store.session() as session, session.begin():
...         retried = await store.claim(session, request)
...         await store.save(session, request, "order 1")
...     return first, retried
>>> asyncio.run(crash_then_retry())
(None, None)
"""

from __future__ import annotations

import dataclasses
import datetime
import typing

from cqrs._memory_transactions import Ledger, MemorySession
from cqrs.clock import aware_now, utc_now
from cqrs.exceptions import ConfigurationError
from cqrs.idempotency.store import (
    DEFAULT_TTL,
    IdempotencyDeadlockError,
    IdempotencyUsageError,
    IdempotentRequest,
    answer_of,
    check_ttl,
)

__all__ = ("MemoryIdempotencySession", "MemoryIdempotencyStore")

_Key = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class _Entry:
    fingerprint: str
    answer: str | None
    created_at: datetime.datetime


class MemoryIdempotencySession(MemorySession):
    """A unit of work on a `MemoryIdempotencyStore`, shaped like SQLAlchemy's `AsyncSession`."""

    def __init__(self, store: MemoryIdempotencyStore, ledger: Ledger[_Key, _Entry]) -> None:
        super().__init__(ledger)
        self.store = store


class MemoryIdempotencyStore:
    """`IdempotencyStore` over a dict; keys expire `ttl` after they were claimed."""

    def __init__(
        self,
        ttl: datetime.timedelta = DEFAULT_TTL,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.ttl: datetime.timedelta = check_ttl(ttl)
        self._clock = clock
        self._ledger: Ledger[_Key, _Entry] = Ledger(IdempotencyDeadlockError)

    def session(self) -> MemoryIdempotencySession:
        """A new session on this store (use it as `async with store.session() as s`)."""
        return MemoryIdempotencySession(self, self._ledger)

    async def claim(
        self, session: MemoryIdempotencySession, request: IdempotentRequest
    ) -> str | None:
        """See `IdempotencyStore.claim`; raises `ConfigurationError` for another store's session."""
        self._check(session)
        key = (request.scope, request.key)
        now = aware_now(self._clock)
        committed = self._ledger.records.get(key)
        if committed is not None and committed.created_at <= now - self.ttl:
            del self._ledger.records[key]  # expired: as good as never claimed
        if await self._ledger.insert(session, key, lambda: _Entry(request.fingerprint, None, now)):
            return None
        entry = self._ledger.read(session, key)
        assert entry is not None  # insert refused: committed, or staged by this transaction
        return answer_of(request, entry.fingerprint, entry.answer)

    async def save(
        self, session: MemoryIdempotencySession, request: IdempotentRequest, answer: str
    ) -> None:
        """See `IdempotencyStore.save`."""
        self._check(session)
        key = (request.scope, request.key)
        entry = self._ledger.read(session, key)
        if entry is None or not self._ledger.restage(
            session, key, dataclasses.replace(entry, answer=answer)
        ):
            raise IdempotencyUsageError(
                f"save of idempotency key {request.key!r} without a claim in this "
                "transaction: call claim() first, on the same session."
            )

    async def purge(self) -> int:
        """Forget committed keys older than `ttl`; return how many."""
        cutoff = aware_now(self._clock) - self.ttl
        records = self._ledger.records
        old = [key for key, entry in records.items() if entry.created_at <= cutoff]
        for key in old:
            del records[key]
        return len(old)

    def answers(self) -> dict[tuple[str, str], str | None]:
        """The committed keys, `(scope, key)`, and their answers."""
        return {key: entry.answer for key, entry in self._ledger.records.items()}

    def _check(self, session: MemoryIdempotencySession) -> None:
        if not isinstance(session, MemoryIdempotencySession) or session.store is not self:
            raise ConfigurationError(
                f"{session!r} is not a session of this MemoryIdempotencyStore; open one "
                "with `async with store.session() as session:`."
            )
