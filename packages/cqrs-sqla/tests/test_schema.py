"""The schema: tables, indexes and time zones on both databases."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.schema import Schema, TableNames, create_all

TABLES = ("outbox", "inbox", "saga", "saga_log")


async def test_create_all_makes_every_table_and_is_idempotent(
    engine: AsyncEngine, schema: Schema
) -> None:
    await create_all(engine, schema)  # a second time changes nothing

    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())

    assert set(schema.metadata.tables) <= set(names)


async def test_the_outbox_has_partial_indexes_on_pending_rows(
    engine: AsyncEngine, schema: Schema
) -> None:
    async with engine.connect() as connection:
        indexes = await connection.run_sync(
            lambda sync: sa.inspect(sync).get_indexes(schema.outbox.name)
        )

    by_name = {index["name"]: index for index in indexes}
    assert f"ix_{schema.outbox.name}_pending" in by_name
    assert f"ix_{schema.outbox.name}_pending_key" in by_name


async def test_timestamps_come_back_time_zone_aware_in_utc(
    engine: AsyncEngine, schema: Schema
) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    written = datetime.datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)
    async with engine.begin() as connection:
        await connection.execute(
            schema.inbox.insert().values(consumer="c", message_id=uuid.uuid4(), received_at=written)
        )
        read = (await connection.execute(sa.select(schema.inbox.c.received_at))).scalar_one()

    assert read == written
    assert read.tzinfo is not None
    assert read.utcoffset() == datetime.timedelta(0)


async def test_a_naive_timestamp_is_refused(engine: AsyncEngine, schema: Schema) -> None:
    with pytest.raises(sa_exc.StatementError, match="time zone aware"):
        async with engine.begin() as connection:
            await connection.execute(
                schema.inbox.insert().values(
                    consumer="c", message_id=uuid.uuid4(), received_at=datetime.datetime(2024, 1, 1)
                )
            )


def test_the_outbox_name_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOX_SQLA_TABLE", "my_outbox")

    assert Schema().outbox.name == "my_outbox"
    assert TableNames().outbox == "my_outbox"


def test_constraint_names_follow_the_naming_convention() -> None:
    schema = Schema()

    assert schema.outbox.primary_key.name == "pk_outbox"
    assert {c.name for c in schema.outbox.constraints} >= {"uq_outbox_event_id"}


async def test_processes_creating_a_fresh_schema_at_once_do_not_collide(
    engine: AsyncEngine,
) -> None:
    """Services starting together each call `create_all` on an empty database."""
    schema = Schema(TableNames(**{n: f"race_{uuid.uuid4().hex[:8]}_{n}" for n in TABLES}))
    try:
        await asyncio.gather(*(create_all(engine, schema) for _ in range(6)))

        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert set(schema.metadata.tables) <= set(names)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(schema.metadata.drop_all)
