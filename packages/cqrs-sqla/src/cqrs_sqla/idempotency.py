"""`SqlAlchemyIdempotencyStore`: `cqrs.idempotency` keys on the schema's `idempotency` table.

`claim` inserts the key (`INSERT ... ON CONFLICT DO NOTHING`) on the caller's
session, so it commits or rolls back with the request's own writes, and
`save` stores the answer in the same transaction. A second claim of a key
another transaction holds waits for it, as the inbox does: on PostgreSQL on
the row's lock (READ COMMITTED), on SQLite on the write lock
(`cqrs_sqla.create_engine` begins every transaction `IMMEDIATE`).

>>> import asyncio
>>> from sqlalchemy.ext.asyncio import async_sessionmaker
>>> from cqrs.idempotency import IdempotentRequest, fingerprint
>>> from cqrs_sqla.engine import create_engine
>>> from cqrs_sqla.schema import Schema, create_all
>>> async def place_twice() -> list[str]:
...     engine, schema = create_engine("sqlite+aiosqlite://"), Schema()
...     await create_all(engine, schema)
...     store, sessions = SqlAlchemyIdempotencyStore(schema), async_sessionmaker(engine)
...     request, answers = IdempotentRequest("c-1", "k-1", fingerprint(b"{}")), []
...     for attempt in range(2):
...         async with sessions() as session, session.begin():
...             stored = await store.claim(session, request)
...             if stored is None:  # new: the order would be written here
...                 stored = f"order of attempt {attempt}"
...                 await store.save(session, request, stored)
...             answers.append(stored)
...     await engine.dispose()
...     return answers
>>> asyncio.run(place_twice())
['order of attempt 0', 'order of attempt 0']
"""

from __future__ import annotations

import datetime
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.clock import aware_now, utc_now
from cqrs.idempotency import (
    DEFAULT_TTL,
    IdempotencyUsageError,
    IdempotentRequest,
    answer_of,
    check_ttl,
)
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.schema import Schema
from cqrs_sqla.statements import insert_unless_present

__all__ = ("SqlAlchemyIdempotencyStore",)


class SqlAlchemyIdempotencyStore:
    """`IdempotencyStore[AsyncSession]` on `schema.idempotency`, PostgreSQL and SQLite.

    A key expires `ttl` after its claim (`clock`); `purge` deletes expired keys.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        ttl: datetime.timedelta = DEFAULT_TTL,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.ttl: datetime.timedelta = check_ttl(ttl)
        self._table = schema.idempotency
        self._clock = clock

    @maps_driver_errors
    async def claim(self, session: AsyncSession, request: IdempotentRequest) -> str | None:
        """See `cqrs.idempotency.IdempotencyStore.claim`; raises the driver's errors as
        `cqrs_sqla.errors` says."""
        now = aware_now(self._clock)
        table, key = self._table, self._key(request)
        # An expired key is as good as never claimed: make room for this claim.
        await session.execute(sa.delete(table).where(key, table.c.created_at <= now - self.ttl))
        values = {
            "scope": request.scope,
            "key": request.key,
            "fingerprint": request.fingerprint,
            "created_at": now,
        }
        dialect = session.get_bind(clause=table).dialect
        statement = insert_unless_present(dialect, table, values, "SqlAlchemyIdempotencyStore")
        inserted = await session.execute(statement)
        if typing.cast("sa.CursorResult[typing.Any]", inserted).rowcount == 1:
            return None
        found = (
            await session.execute(sa.select(table.c.fingerprint, table.c.answer).where(key))
        ).one()
        return answer_of(request, found.fingerprint, found.answer)

    @maps_driver_errors
    async def save(self, session: AsyncSession, request: IdempotentRequest, answer: str) -> None:
        """See `cqrs.idempotency.IdempotencyStore.save`."""
        table = self._table
        statement = (
            sa.update(table)
            .where(self._key(request), table.c.answer.is_(None))
            .values(answer=answer)
        )
        result = await session.execute(statement)
        if typing.cast("sa.CursorResult[typing.Any]", result).rowcount != 1:
            raise IdempotencyUsageError(
                f"save of idempotency key {request.key!r} without a claim in this "
                "transaction: call claim() first, on the same session."
            )

    @maps_driver_errors
    async def purge(self, sessions: typing.Callable[[], AsyncSession]) -> int:
        """Delete the expired keys in a transaction of its own; return how many."""
        statement = sa.delete(self._table).where(
            self._table.c.created_at <= aware_now(self._clock) - self.ttl
        )
        async with sessions() as session, session.begin():
            result = await session.execute(statement)
        return typing.cast("sa.CursorResult[typing.Any]", result).rowcount

    def _key(self, request: IdempotentRequest) -> sa.ColumnElement[bool]:
        table = self._table
        return sa.and_(table.c.scope == request.scope, table.c.key == request.key)
