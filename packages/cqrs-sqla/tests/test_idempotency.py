"""`SqlAlchemyIdempotencyStore` against the idempotency contract on PostgreSQL and SQLite,
plus what only it has: the request's own writes in the key's transaction."""

from __future__ import annotations

import contextlib
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cqrs.idempotency import IdempotentRequest, fingerprint
from cqrs.testing.clock import FakeClock
from cqrs.testing.idempotency import IdempotencyBackend, IdempotencyContract
from cqrs_sqla import SqlAlchemyIdempotencyStore
from cqrs_sqla.schema import Schema

from .lock_waits import LockWaits


class SqlBackend(IdempotencyBackend[AsyncSession]):
    def __init__(self, store: SqlAlchemyIdempotencyStore, engine: AsyncEngine, schema: Schema):
        self.store = self.sql = store
        self.sessions = async_sessionmaker(engine)
        self.waits = LockWaits(schema.idempotency, engine)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def purge(self) -> int:
        return await self.sql.purge(self.sessions)

    async def until_blocked(self) -> None:
        await self.waits.until_blocked()


class TestSqlAlchemyIdempotencyStore(IdempotencyContract[AsyncSession]):
    @pytest.fixture
    async def backend(self, clock: FakeClock, engine: AsyncEngine, schema: Schema) -> SqlBackend:
        # Async: LockWaits watches the engine from the test's event loop.
        store = SqlAlchemyIdempotencyStore(schema, ttl=IdempotencyContract.TTL, clock=clock)
        return SqlBackend(store, engine, schema)


class Crash(Exception):
    """The server dying before its transaction commits."""


@pytest.mark.parametrize("crash", [False, True], ids=["answer-lost", "crash-before-commit"])
async def test_a_retry_makes_one_order_whatever_became_of_the_first_attempt(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
    crash: bool,
) -> None:
    orders = schema.inbox  # any table of the request's own writes
    store = SqlAlchemyIdempotencyStore(schema)
    request = IdempotentRequest("c-1", "k-1", fingerprint(b"{}"))

    async def place(crash: bool) -> str:
        async with session_factory() as session, session.begin():
            stored = await store.claim(session, request)
            if stored is not None:
                return stored
            order_id = uuid.uuid4()
            values = {"consumer": "orders", "message_id": order_id, "received_at": sa.func.now()}
            await session.execute(orders.insert().values(values))
            await store.save(session, request, str(order_id))
            if crash:
                raise Crash
            return str(order_id)

    first = None
    with contextlib.suppress(Crash):
        first = await place(crash)
    retry = await place(crash=False)

    async with engine.connect() as connection:
        stored = (await connection.execute(sa.select(orders.c.message_id))).scalars().all()
    assert [str(order_id) for order_id in stored] == [retry]
    assert first == (None if crash else retry)
