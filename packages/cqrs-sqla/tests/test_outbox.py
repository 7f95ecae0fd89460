"""The SQL outbox's write side: events commit and roll back with the business data."""

from __future__ import annotations

import collections.abc

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import cqrs
from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.protocol import payload_json
from cqrs.outbox import DEFAULT_MAX_MESSAGE_BYTES
from cqrs.outbox.repository import UnregisteredEventError
from cqrs.testing import registered_outbox_events
from cqrs_sqla.encoding import decode_payload
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema

PREFIX = "sqla_outbox_test_"


class Shipped(pydantic.BaseModel):
    order_id: str


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events({f"{PREFIX}shipped": cqrs.NotificationEvent[Shipped]}):
        yield


def shipped(order_id: str) -> cqrs.NotificationEvent[Shipped]:
    return cqrs.NotificationEvent[Shipped](
        event_name=f"{PREFIX}shipped", topic="orders", payload=Shipped(order_id=order_id)
    )


@pytest.fixture
def orders(schema: Schema) -> sa.Table:
    return sa.Table(
        f"{schema.outbox.name}_orders",
        schema.metadata,
        sa.Column("id", sa.String(32), primary_key=True),
    )


@pytest.fixture
async def business(engine: AsyncEngine, orders: sa.Table) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(orders.create)


async def outbox_rows(engine: AsyncEngine, schema: Schema) -> list[sa.Row[tuple[object, ...]]]:
    async with engine.connect() as connection:
        result = await connection.execute(sa.select(schema.outbox).order_by(schema.outbox.c.id))
        return list(result)


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as connection:
        return (
            await connection.execute(sa.select(sa.func.count()).select_from(table))
        ).scalar_one()


@pytest.mark.usefixtures("business")
async def test_events_commit_with_the_business_rows(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
    orders: sa.Table,
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    event = shipped("o-1")

    async with outbox as session:
        await session.execute(orders.insert().values(id="o-1"))
        outbox.add(session, event, key="o-1")
        await outbox.commit(session)

    [row] = await outbox_rows(engine, schema)
    assert (row.event_id, row.event_name, row.topic, row.partition_key, row.status) == (
        event.event_id,
        f"{PREFIX}shipped",
        "orders",
        "o-1",
        "pending",
    )
    assert decode_payload(row.payload, row.content_encoding) == event.to_dict()
    assert await count(engine, orders) == 1


@pytest.mark.usefixtures("business")
async def test_a_plain_session_commit_writes_the_events_too(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)

    async with session_factory() as session:
        outbox.add(session, shipped("o-1"))
        outbox.add(session, shipped("o-2"))
        await session.commit()

    assert [row.partition_key for row in await outbox_rows(engine, schema)] == [None, None]
    assert len(await outbox_rows(engine, schema)) == 2


@pytest.mark.usefixtures("business")
async def test_a_rolled_back_transaction_leaves_no_outbox_row(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
    orders: sa.Table,
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)

    async with outbox as session:
        await session.execute(orders.insert().values(id="o-1"))
        outbox.add(session, shipped("o-1"))
        await outbox.rollback(session)
        # The session goes on: what is added after the rollback commits alone.
        outbox.add(session, shipped("o-2"), key="o-2")
        await outbox.commit(session)

    assert [row.partition_key for row in await outbox_rows(engine, schema)] == ["o-2"]
    assert await count(engine, orders) == 0


@pytest.mark.usefixtures("business")
async def test_leaving_the_block_without_commit_writes_nothing(
    engine: AsyncEngine, schema: Schema, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)

    async with outbox as session:
        outbox.add(session, shipped("o-1"))

    assert await outbox_rows(engine, schema) == []


async def test_an_unregistered_event_fails_before_touching_the_session(
    schema: Schema, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    stray = cqrs.NotificationEvent[Shipped](
        event_name=f"{PREFIX}unknown", topic="orders", payload=Shipped(order_id="o-1")
    )

    async with outbox as session:
        with pytest.raises(UnregisteredEventError, match=f"{PREFIX}unknown"):
            outbox.add(session, stray)
        assert not session.in_transaction()


async def test_payloads_are_compressed_when_a_compressor_is_given(
    engine: AsyncEngine, schema: Schema, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, ZlibCompressor(), schema=schema)
    event = shipped("o-" + "x" * 200)

    async with outbox as session:
        outbox.add(session, event)
        await outbox.commit(session)

    [row] = await outbox_rows(engine, schema)
    assert row.content_encoding == "zlib"
    assert len(row.payload) < len(str(event.to_dict()))
    assert decode_payload(row.payload, row.content_encoding) == event.to_dict()


@pytest.mark.usefixtures("business")
async def test_an_event_above_the_size_limit_is_refused_and_never_written(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
    orders: sa.Table,
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    huge = shipped("o-" + "x" * DEFAULT_MAX_MESSAGE_BYTES)

    async with outbox as session:
        await session.execute(orders.insert().values(id="o-1"))
        with pytest.raises(cqrs.EventTooLargeError) as raised:
            outbox.add(session, huge, key="o-1")
        outbox.add(session, shipped("o-1"), key="o-1")
        await outbox.commit(session)

    [row] = await outbox_rows(engine, schema)
    assert decode_payload(row.payload, row.content_encoding)["payload"] == {"order_id": "o-1"}
    assert raised.value.size == len(payload_json(huge.to_dict())) + len("o-1")
    assert await count(engine, orders) == 1


async def test_the_size_limit_is_the_payload_json_before_compression(
    engine: AsyncEngine, schema: Schema, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    event = shipped("o-" + "x" * 2000)  # compresses to a few dozen bytes
    size = len(payload_json(event.to_dict()))
    outbox = SqlAlchemyOutboxedEventRepository(
        session_factory, ZlibCompressor(), schema=schema, max_message_bytes=size
    )

    async with outbox as session:
        outbox.add(session, event)
        with pytest.raises(cqrs.EventTooLargeError):
            outbox.add(session, event, key="k")
        await outbox.commit(session)

    assert len(await outbox_rows(engine, schema)) == 1


def test_the_seed_constructor_form_works(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, ZlibCompressor())

    assert outbox.schema.outbox.name == "outbox"
    assert isinstance(outbox.compressor, ZlibCompressor)
