"""`AsyncpgOutbox` on real PostgreSQL: rows written on the caller's asyncpg connection
commit and roll back with its business rows, refusals send nothing, relays hear of
the rows on commit only, and a relay publishes them as it does the session path's."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime
import os
import typing

import asyncpg
import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import cqrs
from cqrs.compressors.zlib import ZlibCompressor
from cqrs.exceptions import ConfigurationError
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox.relay import OutboxRelay
from cqrs.outbox.repository import UnregisteredEventError
from cqrs.testing import FakeClock, registered_outbox_events
from cqrs_sqla import IntegrityViolationError
from cqrs_sqla.notify import channel
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.pg_outbox import AsyncpgOutbox
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, TableNames, create_all

from .outbox_table import outbox_rows
from .relay_channel import notifications

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

PREFIX = "pg_outbox_test_"


class Packed(pydantic.BaseModel):
    order_id: str
    note: str = ""


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events({f"{PREFIX}packed": cqrs.NotificationEvent[Packed]}):
        yield


def packed(order_id: str, note: str = "") -> cqrs.NotificationEvent[Packed]:
    return cqrs.NotificationEvent[Packed](
        event_name=f"{PREFIX}packed", topic="parcels", payload=Packed(order_id=order_id, note=note)
    )


def driver_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str) -> typing.Any:
    open_connection = typing.cast(
        "typing.Callable[[str], typing.Awaitable[typing.Any]]",
        asyncpg.connect,  # pyright: ignore[reportUnknownMemberType]  (asyncpg: partly untyped)
    )
    return await open_connection(driver_dsn(url))


@pytest.fixture
async def connection(postgres_url: str) -> collections.abc.AsyncIterator[typing.Any]:
    """The application's own asyncpg connection."""
    connection = await connect(postgres_url)
    yield connection
    await connection.close()


@pytest.fixture
async def orders(engine: AsyncEngine, schema: Schema) -> str:
    """The application's business table, on the schema's metadata (dropped with it)."""
    table = sa.Table(
        f"{schema.outbox.name}_orders", schema.metadata, sa.Column("id", sa.Text, primary_key=True)
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
    return table.name


async def order_ids(connection: typing.Any, orders: str) -> list[str]:
    return [row["id"] for row in await connection.fetch(f"SELECT id FROM {orders} ORDER BY id")]


async def test_events_commit_and_roll_back_with_the_business_rows(
    engine: AsyncEngine, schema: Schema, connection: typing.Any, orders: str
) -> None:
    outbox = AsyncpgOutbox(schema=schema)

    async with connection.transaction():
        await connection.execute(f"INSERT INTO {orders} (id) VALUES ('o-1')")
        await outbox.add(connection, packed("o-1"), key="o-1")

    async def failing_order() -> None:
        async with connection.transaction():
            await connection.execute(f"INSERT INTO {orders} (id) VALUES ('o-2')")
            await outbox.add(connection, packed("o-2"), key="o-2")
            raise RuntimeError("payment failed")

    with pytest.raises(RuntimeError, match="payment failed"):
        await failing_order()

    assert await order_ids(connection, orders) == ["o-1"]
    rows = await outbox_rows(engine, schema)
    assert [(row.message.key, row.message.payload["payload"]) for row in rows] == [
        ("o-1", {"order_id": "o-1", "note": ""})
    ]


async def test_a_write_is_one_statement_on_the_callers_connection(
    engine: AsyncEngine, schema: Schema, connection: typing.Any
) -> None:
    outbox = AsyncpgOutbox(schema=schema)
    # asyncpg looks up the array types of the several-row form once per connection.
    transaction = connection.transaction()
    await transaction.start()
    await outbox.add_all(connection, [packed("o-0"), packed("o-0")])
    await transaction.rollback()
    sent: list[str] = []

    def log(record: typing.Any) -> None:
        sent.append(record.query.strip())

    connection.add_query_logger(log)

    async with connection.transaction():
        await outbox.add(connection, packed("o-1"))
        await outbox.add_all(connection, [packed("o-2"), packed("o-3")], keys=["o-2", None])
    # The logger is called soon after each statement: one more round trip lets it catch
    # up with the transaction's.
    assert await connection.fetchval("SELECT 'done'") == "done"
    begin, *written = sent[: sent.index("COMMIT;")]

    assert begin == "BEGIN;"
    assert len(written) == 2
    assert all(schema.outbox.name in statement for statement in written)
    rows = await outbox_rows(engine, schema)
    assert [(row.message.payload["payload"]["order_id"], row.message.key) for row in rows] == [
        ("o-1", None),
        ("o-2", "o-2"),
        ("o-3", None),
    ]


async def test_a_connection_outside_a_transaction_is_refused_and_nothing_written(
    engine: AsyncEngine, schema: Schema, connection: typing.Any
) -> None:
    outbox = AsyncpgOutbox(schema=schema)

    with pytest.raises(ConfigurationError, match=r"connection\.transaction\(\)"):
        await outbox.add(connection, packed("o-1"))
    with pytest.raises(ConfigurationError, match="inside a transaction"):
        await outbox.add_all(connection, [packed("o-2")])
    with pytest.raises(ConfigurationError, match="inside a transaction"):
        await outbox.add_all(connection, [])

    assert await outbox_rows(engine, schema) == []


async def test_refused_events_send_nothing_and_leave_the_transaction_usable(
    engine: AsyncEngine, schema: Schema, connection: typing.Any, orders: str
) -> None:
    outbox = AsyncpgOutbox(schema=schema, max_message_bytes=200)
    unregistered = cqrs.NotificationEvent[Packed](
        event_name=f"{PREFIX}never_registered", topic="parcels", payload=Packed(order_id="o-1")
    )

    async with connection.transaction():
        await connection.execute(f"INSERT INTO {orders} (id) VALUES ('o-1')")
        with pytest.raises(UnregisteredEventError, match="never_registered"):
            await outbox.add(connection, unregistered)
        with pytest.raises(cqrs.EventTooLargeError):
            await outbox.add(connection, packed("o-1", note="x" * 300))
        with pytest.raises(cqrs.EventTooLargeError):  # the first event alone would fit
            await outbox.add_all(connection, [packed("o-1"), packed("o-1", note="x" * 300)])
        with pytest.raises(ValueError, match="2 events and 1 keys"):
            await outbox.add_all(connection, [packed("o-1"), packed("o-1")], keys=["o-1"])

    assert await order_ids(connection, orders) == ["o-1"]  # the transaction committed
    assert await outbox_rows(engine, schema) == []


async def test_a_second_row_with_the_same_event_id_is_an_integrity_violation(
    engine: AsyncEngine, schema: Schema, connection: typing.Any
) -> None:
    outbox = AsyncpgOutbox(schema=schema)
    event = packed("o-1")

    async def twice() -> None:
        async with connection.transaction():
            await outbox.add(connection, event)
            await outbox.add(connection, event)

    with pytest.raises(IntegrityViolationError, match=r"AsyncpgOutbox\.add: .*constraint"):
        await twice()

    assert await outbox_rows(engine, schema) == []


async def test_the_relays_hear_of_the_rows_on_commit_only(
    schema: Schema, connection: typing.Any, postgres_url: str
) -> None:
    outbox = AsyncpgOutbox(schema=schema)
    other = await connect(postgres_url)

    async def heard_until_marker(heard: asyncio.Queue[str], marker: str) -> list[str]:
        # Notifications arrive in commit order: whatever came before the marker,
        # notified by another connection now, was committed before it.
        await other.execute("SELECT pg_notify($1, $2)", channel(schema), marker)
        payloads: list[str] = []
        while (payload := await asyncio.wait_for(heard.get(), timeout=30)) != marker:
            payloads.append(payload)
        return payloads

    try:
        async with notifications(postgres_url, schema) as heard:
            async with connection.transaction():
                await outbox.add(connection, packed("o-1"))
                assert await heard_until_marker(heard, "before commit") == []
            assert await heard_until_marker(heard, "after commit") == [""]

            async def rolled_back() -> None:
                async with connection.transaction():
                    await outbox.add_all(connection, [packed("o-2"), packed("o-3")])
                    raise RuntimeError("changed my mind")

            with pytest.raises(RuntimeError, match="changed my mind"):
                await rolled_back()
            assert await heard_until_marker(heard, "after rollback") == []
    finally:
        await other.close()


async def test_a_waiting_relay_store_wakes_on_the_commit(
    engine: AsyncEngine, schema: Schema, connection: typing.Any
) -> None:
    store = SqlAlchemyOutboxStore(engine, schema)
    outbox = AsyncpgOutbox(schema=schema)
    try:
        await store.wait_for_rows(0.01)  # starts listening
        waiter = asyncio.ensure_future(store.wait_for_rows(60))
        async with connection.transaction():
            await outbox.add(connection, packed("o-1"))
        await asyncio.wait_for(waiter, 30)  # well before its own 60 s: woken

        assert [row.message.payload["payload"] for row in await outbox_rows(engine, schema)] == [
            {"order_id": "o-1", "note": ""}
        ]
    finally:
        await store.close()


@pytest.fixture
async def twin_schema(engine: AsyncEngine, schema: Schema) -> collections.abc.AsyncIterator[Schema]:
    """A second set of tables beside `schema`'s, for the session path's rows."""
    twin = Schema(TableNames.prefixed(f"{schema.outbox.name}_twin_"))
    await create_all(engine, twin)
    yield twin
    async with engine.begin() as connection:
        await connection.run_sync(twin.metadata.drop_all)


@pytest.mark.parametrize("compressor", [None, ZlibCompressor()], ids=["plain", "zlib"])
async def test_a_relay_publishes_the_rows_as_it_does_the_session_paths(
    engine: AsyncEngine,
    schema: Schema,
    twin_schema: Schema,
    connection: typing.Any,
    compressor: ZlibCompressor | None,
) -> None:
    clock = FakeClock(datetime.datetime.now(datetime.timezone.utc))
    driver = AsyncpgOutbox(compressor, schema=schema, clock=clock)
    session = SqlAlchemyOutboxedEventRepository(
        async_sessionmaker(engine), compressor, schema=twin_schema, clock=clock
    )
    events = [packed("o-1", note="fragile"), packed("o-2")]

    async with connection.transaction():
        await driver.add(connection, events[0], key="o-1")
        await driver.add_all(connection, events[1:], keys=["o-2"])
    async with session as opened:
        session.add(opened, events[0], key="o-1")
        session.add(opened, events[1], key="o-2")
        await session.commit(opened)

    async def stored(outbox: sa.Table) -> list[dict[str, object]]:
        columns = [column for column in outbox.columns if column.name != "id"]
        async with engine.connect() as db:
            result = await db.execute(sa.select(*columns).order_by(outbox.c.id))
            return [dict(row) for row in result.mappings()]

    driver_rows = await stored(schema.outbox)
    assert driver_rows == await stored(twin_schema.outbox)
    assert [row["content_encoding"] for row in driver_rows] == [
        None if compressor is None else "zlib"
    ] * 2

    async def published(outbox_schema: Schema) -> InMemoryMessageBroker:
        broker = InMemoryMessageBroker()
        store = SqlAlchemyOutboxStore(engine, outbox_schema, compressor=compressor)
        assert await OutboxRelay(store, broker).run_once() == 2
        return broker

    from_driver, from_session = await published(schema), await published(twin_schema)
    assert from_driver.messages == from_session.messages
    assert [(m.message_id, m.key, m.payload["payload"]) for m in from_driver.messages] == [
        (events[0].event_id, "o-1", {"order_id": "o-1", "note": "fragile"}),
        (events[1].event_id, "o-2", {"order_id": "o-2", "note": ""}),
    ]
    assert [row.status.value for row in await outbox_rows(engine, schema, compressor)] == [
        "published"
    ] * 2


async def test_a_pooled_connection_writes_as_well(
    engine: AsyncEngine, schema: Schema, postgres_url: str
) -> None:
    create_pool = typing.cast(
        "typing.Callable[..., typing.Awaitable[typing.Any]]",
        asyncpg.create_pool,  # pyright: ignore[reportUnknownMemberType]  (asyncpg: partly untyped)
    )
    pool = await create_pool(driver_dsn(postgres_url), min_size=1, max_size=1)
    outbox = AsyncpgOutbox(schema=schema)
    try:
        async with pool.acquire() as pooled, pooled.transaction():
            await outbox.add(pooled, packed(f"o-{os.getpid()}"))
    finally:
        await pool.close()

    assert [
        row.message.payload["payload"]["order_id"] for row in await outbox_rows(engine, schema)
    ] == [f"o-{os.getpid()}"]
