from __future__ import annotations

import asyncio
import time
import typing

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_kafka.local import free_port
from cqrs_sqla.schema import Schema
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
    engine, other = create_engine(postgresql_url), create_engine(postgresql_url)
    pings = 0

    def count_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return True

    # A pre-ping (a transaction per checkout) goes through the dialect's do_ping.
    engine.dialect.do_ping = count_ping
    pid = sa.text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as connection:  # pooled after the block
            victim = (await connection.execute(pid)).scalar_one()
            driver = typing.cast(
                typing.Any, (await connection.get_raw_connection()).driver_connection
            )
        async with other.connect() as killer:
            await killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        # Once asyncpg has read the end of the socket (a dropped connection is found at
        # no cost from then on; before, its first use fails once and is retried).
        deadline = time.monotonic() + 10
        while not driver.is_closed():
            assert time.monotonic() < deadline, "the server did not end the connection"
            await asyncio.sleep(0.01)

        # The pool hands out a connection that works: the first use succeeds, on a
        # new connection, and no checkout pinged.
        async with engine.connect() as connection:
            assert (await connection.execute(pid)).scalar_one() != victim
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        assert pings == 0
    finally:
        await engine.dispose()
        await other.dispose()
