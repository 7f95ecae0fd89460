"""`SqlAlchemyOutboxedEventRepository` against the outbox repository contract on
PostgreSQL and SQLite, plus what only it has: the business writes in the same
transaction, a plain `session.commit()`, compression and the seed constructor."""

from __future__ import annotations

import collections.abc
import typing

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

import cqrs
from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.protocol import Message, payload_json
from cqrs.outbox.repository import UnregisteredEventError
from cqrs.testing import registered_outbox_events
from cqrs.testing.outbox_repository import OutboxRepositoryBackend, OutboxRepositoryContract
from cqrs_sqla import outbox as outbox_module
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema

from .outbox_table import outbox_rows

PREFIX = "sqla_outbox_test_"
Sessions = async_sessionmaker[AsyncSession]


class SqlOutboxRepositoryBackend(OutboxRepositoryBackend[AsyncSession]):
    def __init__(self, engine: AsyncEngine, schema: Schema) -> None:
        self.repository = SqlAlchemyOutboxedEventRepository(
            async_sessionmaker(engine), schema=schema
        )
        self.engine = engine
        self.schema = schema

    async def messages(self) -> list[Message]:
        return [row.message for row in await outbox_rows(self.engine, self.schema)]


class TestSqlAlchemyOutboxedEventRepository(OutboxRepositoryContract[AsyncSession]):
    @pytest.fixture
    def backend(self, engine: AsyncEngine, schema: Schema) -> SqlOutboxRepositoryBackend:
        return SqlOutboxRepositoryBackend(engine, schema)


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
async def orders(engine: AsyncEngine, schema: Schema) -> sa.Table:
    """The handler's business table, on the schema's metadata (dropped with it)."""
    table = sa.Table(
        f"{schema.outbox.name}_orders",
        schema.metadata,
        sa.Column("id", sa.String(32), primary_key=True),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
    return table


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table)
        return (await connection.execute(query)).scalar_one()


async def test_events_commit_and_roll_back_with_the_business_rows(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, orders: sa.Table
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    kept = shipped("o-2")

    async with outbox as session:
        await session.execute(orders.insert().values(id="o-1"))
        outbox.add(session, shipped("o-1"), key="o-1")
        await outbox.rollback(session)
        await session.execute(orders.insert().values(id="o-2"))
        outbox.add(session, kept, key="o-2")
        await outbox.commit(session)

    [row] = await outbox_rows(engine, schema)
    assert (row.message.message_id, row.message.key) == (kept.event_id, "o-2")
    async with engine.connect() as connection:
        assert list((await connection.execute(sa.select(orders.c.id))).scalars()) == ["o-2"]


async def test_a_plain_session_commit_writes_the_events_too(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)

    async with session_factory() as session:
        outbox.add(session, shipped("o-1"))
        outbox.add(session, shipped("o-2"))
        await session.commit()

    assert [row.message.key for row in await outbox_rows(engine, schema)] == [None, None]


async def test_an_unregistered_event_fails_before_touching_the_session(
    schema: Schema, session_factory: Sessions
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
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    compressor = ZlibCompressor()
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, compressor, schema=schema)
    event = shipped("o-" + "x" * 200)

    async with outbox as session:
        outbox.add(session, event)
        await outbox.commit(session)

    async with engine.connect() as connection:
        [(encoding, stored)] = await connection.execute(
            sa.select(schema.outbox.c.content_encoding, schema.outbox.c.payload)
        )
    assert encoding == "zlib"
    assert len(stored) < len(str(event.to_dict()))
    [row] = await outbox_rows(engine, schema, compressor)
    assert row.message.payload == event.to_dict()


async def test_the_size_limit_is_the_payload_json_before_compression(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    event = shipped("o-" + "x" * 2000)  # compresses to a few dozen bytes
    size = len(payload_json(event.to_dict()))
    outbox = SqlAlchemyOutboxedEventRepository(
        session_factory, ZlibCompressor(), schema=schema, max_message_bytes=size
    )

    async with outbox as session:
        outbox.add(session, event)
        with pytest.raises(cqrs.EventTooLargeError):
            outbox.add(session, event, key="k")  # one byte more, in the key
        await outbox.commit(session)

    assert len(await outbox_rows(engine, schema)) == 1


def test_the_seed_constructor_form_works(session_factory: Sessions) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, ZlibCompressor())

    assert outbox.schema.outbox.name == "outbox"
    assert isinstance(outbox.compressor, ZlibCompressor)


async def test_the_session_class_of_the_process_is_left_alone(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    async with outbox as session:
        outbox.add(session, shipped("o-1"))
        await outbox.commit(session)

    hooked = [
        event.contains(Session, name, hook)
        for name, hook in (
            ("before_commit", outbox_module._insert_staged),  # pyright: ignore[reportPrivateUsage]
            ("after_rollback", outbox_module._drop_staged),  # pyright: ignore[reportPrivateUsage]
        )
    ]
    assert hooked == [False, False]
    assert [row.message.key for row in await outbox_rows(engine, schema)] == [None]


async def test_a_session_from_another_factory_inserts_each_transactions_events_once(
    engine: AsyncEngine, schema: Schema
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    elsewhere = async_sessionmaker(engine)  # not the repository's

    async with elsewhere() as session:
        for order_id in ("o-1", "o-2"):
            outbox.add(session, shipped(order_id), key=order_id)
            await session.commit()
        await session.commit()  # nothing staged: nothing inserted

    assert [row.message.key for row in await outbox_rows(engine, schema)] == ["o-1", "o-2"]


async def test_the_write_returns_no_rows_for_sqlalchemy_to_build_a_result_of(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    descriptions: list[object] = []

    def seen(_connection: object, cursor: typing.Any, statement: str, *_: object) -> None:
        if schema.outbox.name in statement:
            descriptions.append(cursor.description)

    event.listen(engine.sync_engine, "after_cursor_execute", seen)
    try:
        for events in (1, 3):  # the single-row and the several-row statement
            async with outbox as session:
                for index in range(events):
                    outbox.add(session, shipped(f"o-{events}-{index}"))
                await outbox.commit(session)
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", seen)

    assert descriptions == [None, None]
    assert len(await outbox_rows(engine, schema)) == 4
