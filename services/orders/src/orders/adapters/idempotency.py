"""The clients' idempotency keys: a `cqrs.idempotency` store on a unit of work's transaction,
and the purge of expired keys.

`TransactionKeys` is the application's `IdempotencyKeys` port: a store's
`claim` and `save` on the one session of a unit of work, so a key commits or
rolls back with the order placed under it. `KeyPurge` deletes the expired
keys now and then, one `DELETE` on the `created_at` index (a claim already
treats an expired key as new: the purge only gives the space back).

>>> import asyncio
>>> from cqrs.idempotency import IdempotentRequest, MemoryIdempotencyStore, fingerprint
>>> store = MemoryIdempotencyStore()
>>> request = IdempotentRequest("orders:c-1", "k-1", fingerprint(b"{}"))
>>> async def twice() -> list[str | None]:
...     answers: list[str | None] = []
...     for _ in range(2):
...         async with store.session() as session, session.begin():
...             keys = TransactionKeys(store, session)
...             answers.append(await keys.claim(request))
...             if answers[-1] is None:
...                 await keys.save(request, "order 1")
...     return answers
>>> asyncio.run(twice())
[None, 'order 1']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import typing

from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.idempotency import IdempotencyStore, IdempotentRequest
from cqrs_sqla.idempotency import SqlAlchemyIdempotencyStore

__all__ = ("KeyPurge", "TransactionKeys")

logger = logging.getLogger("orders.idempotency")

SessionT = typing.TypeVar("SessionT")


class TransactionKeys(typing.Generic[SessionT]):
    """`IdempotencyKeys` on `store`, in the transaction of `session`."""

    def __init__(self, store: IdempotencyStore[SessionT], session: SessionT) -> None:
        self._store = store
        self._session = session

    async def claim(self, request: IdempotentRequest) -> str | None:
        """See `orders.application.ports.IdempotencyKeys.claim`."""
        return await self._store.claim(self._session, request)

    async def save(self, request: IdempotentRequest, answer: str) -> None:
        """See `orders.application.ports.IdempotencyKeys.save`."""
        await self._store.save(self._session, request, answer)


class KeyPurge:
    """Deletes `store`'s expired keys every `interval` seconds (`run`), or once (`once`)."""

    def __init__(
        self,
        store: SqlAlchemyIdempotencyStore,
        sessions: typing.Callable[[], AsyncSession],
        interval: float,
    ) -> None:
        self.store = store
        self._sessions = sessions
        self.interval = interval

    async def once(self) -> int:
        """Delete the expired keys now; return how many there were."""
        return await self.store.purge(self._sessions)

    async def run(self, stop: asyncio.Event) -> None:
        """Purge at once, then every `interval` seconds until `stop` is set; a failed purge
        is logged and tried again at the next turn."""
        while not stop.is_set():
            try:
                purged = await self.once()
            except Exception as error:
                logger.warning(
                    "purging expired idempotency keys failed, trying again in %ss: %s",
                    self.interval,
                    error,
                )
            else:
                if purged:
                    logger.info("purged %d expired idempotency keys", purged)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
