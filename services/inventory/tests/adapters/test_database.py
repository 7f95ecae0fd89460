from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_kafka.local import free_port
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import drop_pooled_connection
from inventory.adapters.database import create_engine, create_schema, database_answers
from inventory.application.errors import StorageUnavailableError


async def test_create_schema_makes_every_table_and_may_run_again(
    engine: AsyncEngine, schema: Schema
) -> None:
    await create_schema(engine, schema)  # the fixture ran it once already
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    assert {"stock", "reservations", schema.outbox.name, schema.inbox.name} <= set(names)


async def test_the_database_answers(engine: AsyncEngine) -> None:
    assert await database_answers(engine)


async def test_an_unreachable_database_does_not_answer() -> None:
    # A PostgreSQL server that is down. (A SQLite file that cannot be opened would do
    # too, but aiosqlite leaves a thread behind that outlives the test's event loop.)
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/inventory")
    try:
        assert not await database_answers(engine)
        with pytest.raises(StorageUnavailableError, match="check INVENTORY_DATABASE_URL"):
            await create_schema(engine, Schema())
    finally:
        await engine.dispose()


async def test_a_connection_the_server_dropped_is_replaced_without_a_ping(
    postgresql_url: str,
) -> None:
    engine = create_engine(postgresql_url)
    pings = 0

    def count_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return True

    # A pre-ping (a transaction per checkout) goes through the dialect's do_ping.
    engine.dialect.do_ping = count_ping
    try:
        # Dropped while pooled, as a restart or an idle timeout does (one dropped in
        # use fails that use once, and the consumer tries the command again).
        victim = await drop_pooled_connection(engine)

        # The pool hands out a connection that works: the first use succeeds, on a
        # new connection, and no checkout pinged.
        async with engine.connect() as connection:
            pid = sa.text("SELECT pg_backend_pid()")
            assert (await connection.execute(pid)).scalar_one() != victim
        assert pings == 0
    finally:
        await engine.dispose()
