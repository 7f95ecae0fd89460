"""`SqlAlchemyOutboxStore` against the outbox store contract on PostgreSQL and SQLite,
plus what only it has: dead rows and their replay, the stored JSON handed on as it
is, a dropped connection, and asynchronous marks."""

from __future__ import annotations

import collections.abc
import datetime
import pathlib
import typing
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.relay import OutboxRelay, RetryPolicy
from cqrs.testing.brokers import FailingBroker
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_store import OutboxStoreBackend, OutboxStoreContract
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.engine import create_engine
from cqrs_sqla.postgres_claim import PostgresClaim
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import terminate_connections

from .outbox_table import outbox_rows, write_rows

NO_WAIT = RetryPolicy(max_attempts=3, initial_delay=datetime.timedelta(seconds=10))


class SqlOutboxStoreBackend(OutboxStoreBackend):
    def __init__(self, engine: AsyncEngine, schema: Schema, clock: FakeClock) -> None:
        self.engine, self.schema, self.clock = engine, schema, clock
        self.stores: list[SqlAlchemyOutboxStore] = []
        self.store = self.another_store()

    async def write(self, messages: list[Message]) -> None:
        await write_rows(self.engine, self.schema, messages, self.clock())

    async def rows(self) -> list[OutboxedEvent]:
        return await outbox_rows(self.engine, self.schema)

    def another_store(self) -> SqlAlchemyOutboxStore:
        store = SqlAlchemyOutboxStore(self.engine, self.schema, clock=self.clock)
        self.stores.append(store)
        return store


class TestSqlAlchemyOutboxStore(OutboxStoreContract):
    @pytest.fixture
    async def backend(
        self, engine: AsyncEngine, schema: Schema, clock: FakeClock
    ) -> collections.abc.AsyncIterator[SqlOutboxStoreBackend]:
        backend = SqlOutboxStoreBackend(engine, schema, clock)
        yield backend
        for store in backend.stores:
            await store.close()


async def write(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, *keys: str | None
) -> list[uuid.UUID]:
    messages = [
        Message(f"event{index}", "orders", {"index": index}, uuid.uuid4(), key=key)
        for index, key in enumerate(keys)
    ]
    await write_rows(engine, schema, messages, clock())
    return [message.message_id for message in messages]


async def statuses(engine: AsyncEngine, schema: Schema) -> list[tuple[str, int]]:
    return [(row.status.value, row.attempts) for row in await outbox_rows(engine, schema)]


async def test_a_row_that_keeps_failing_goes_dead_and_can_be_replayed(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    [event_id] = await write(engine, schema, clock, "a")
    broker = FailingBroker()
    broker.refuse(3)
    relay = OutboxRelay(store, broker, retry=NO_WAIT)
    for _ in range(3):
        await relay.run_once()
        clock.advance(seconds=60)

    [dead] = await store.dead_rows()
    assert (dead.message.message_id, dead.status, dead.attempts) == (
        event_id,
        OutboxStatus.DEAD,
        3,
    )
    assert dead.last_error == "ConnectionError: broker refused event0"
    assert await relay.run_once() == 0

    assert await store.replay_dead() == 1
    assert await relay.run_once() == 1
    assert [m.message_id for m in broker.messages] == [event_id]


async def test_claimed_messages_carry_the_stored_json_and_decode_it_on_read(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> None:
    message = Message("placed", "orders", {"order_id": "o1", "note": "é"}, uuid.uuid4(), key="o1")
    await write_rows(engine, schema, [message], clock(), ZlibCompressor())
    store = SqlAlchemyOutboxStore(engine, schema, clock=clock)

    async with store.claim(10, NO_WAIT) as claim:
        (row,) = claim.rows
        body = row.message.body
        claim.published(row)

    # Decompressed, byte for byte what the writer encoded: a broker can send it as is.
    assert body == '{"order_id":"o1","note":"é"}'.encode()
    assert row.message == message
    async with engine.connect() as connection:
        published_at = (
            await connection.execute(sa.select(schema.outbox.c.published_at))
        ).scalar_one()
    assert published_at == clock()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_relay_recovers_when_the_server_drops_its_connection(
    database_url: str,
    engine: AsyncEngine,
    schema: Schema,
    clock: FakeClock,
    store: SqlAlchemyOutboxStore,
) -> None:
    await write(engine, schema, clock, "a", "b")
    broker = InMemoryMessageBroker()
    relay = OutboxRelay(store, broker, batch_size=1)
    assert await relay.run_once() == 1
    await terminate_connections(database_url)  # as a server restart would

    outcomes: list[int | str] = []
    for _ in range(3):
        try:
            outcomes.append(await relay.run_once())
        except Exception as exc:  # a pass that meets the dead connection fails
            outcomes.append(type(exc).__name__)

    assert 1 in outcomes, outcomes
    assert set(outcomes) - {0, 1} <= {"DatabaseUnavailableError"}, outcomes
    assert [m.key for m in broker.messages] == ["a", "b"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("synchronous_marks", [False, True])
async def test_marks_commit_without_waiting_for_the_flush_unless_asked(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, synchronous_marks: bool
) -> None:
    await write(engine, schema, clock, "a")
    async with engine.connect() as connection:
        server_default = (await connection.execute(sa.text("SHOW synchronous_commit"))).scalar()
    store = SqlAlchemyOutboxStore(engine, schema, clock=clock, synchronous_marks=synchronous_marks)

    async with store.claim(10, NO_WAIT) as claim:
        driver = typing.cast(PostgresClaim, claim)._driver  # pyright: ignore[reportPrivateUsage]
        in_claim = await driver.fetchval("SHOW synchronous_commit")
        claim.published(claim.rows[0])

    assert in_claim == (server_default if synchronous_marks else "off")
    assert server_default != "off"  # else this test shows nothing
    assert await statuses(engine, schema) == [("published", 1)]


async def test_a_sqlite_claim_reads_while_a_writer_holds_the_write_lock(
    tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    # The relays wake on every commit to the file: their claims must not queue
    # for the write lock behind the service's transactions, nor make them queue.
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    writer = create_engine(url)
    # No busy wait: a claim asking for the write lock fails at once instead of waiting.
    relay_engine = create_engine(url, busy_timeout=0)
    schema = Schema()
    store = SqlAlchemyOutboxStore(relay_engine, schema, clock=clock)
    try:
        await create_all(writer, schema)
        [committed] = await write(writer, schema, clock, "a")
        async with writer.connect() as open_transaction:
            await open_transaction.begin()
            late = Message("late", "orders", {}, uuid.uuid4(), key="a")
            await open_transaction.execute(schema.outbox.insert(), [outbox_values(late, clock())])
            claim = store.claim(10, NO_WAIT)
            async with claim:
                assert [row.message.message_id for row in claim.rows] == [committed]
                claim.published(claim.rows[0])
                # The marks do take the write lock: let the writer finish first.
                await open_transaction.commit()
        assert await statuses(writer, schema) == [("published", 1), ("pending", 0)]
    finally:
        await store.close()
        await relay_engine.dispose()
        await writer.dispose()
