"""`cqrs.EventProducer` on the SQL outbox: the documented loop, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import cqrs
from cqrs.compressors import zlib
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox import OutboxRelay, RetryPolicy
from cqrs.testing import FakeClock, registered_outbox_events
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema

PREFIX = "sqla_producer_test_"
RETRY = RetryPolicy(max_attempts=3, initial_delay=datetime.timedelta(seconds=10))


class Joined(pydantic.BaseModel):
    user_id: str
    index: int


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events({f"{PREFIX}joined": cqrs.NotificationEvent[Joined]}):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.datetime.now(datetime.timezone.utc))


@pytest.fixture
async def outbox(
    schema: Schema, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> collections.abc.AsyncIterator[SqlAlchemyOutboxedEventRepository]:
    outbox = SqlAlchemyOutboxedEventRepository(
        session_factory, zlib.ZlibCompressor(), schema=schema, clock=clock
    )
    yield outbox
    await outbox.store.close()


def joined(user_id: str, index: int) -> cqrs.NotificationEvent[Joined]:
    return cqrs.NotificationEvent[Joined](
        event_name=f"{PREFIX}joined",
        topic="user_events",
        payload=Joined(user_id=user_id, index=index),
    )


async def write(
    outbox: SqlAlchemyOutboxedEventRepository, *keys: str | None
) -> list[cqrs.NotificationEvent[Joined]]:
    """Commit one event per key through the repository, as a command handler does."""
    events = [joined(key or "anonymous", index) for index, key in enumerate(keys)]
    async with outbox as session:
        for event, key in zip(events, keys, strict=True):
            outbox.add(session, event, key=key)
        await outbox.commit(session)
    return events


async def statuses(engine: AsyncEngine, schema: Schema) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.select(schema.outbox.c.status, schema.outbox.c.attempts).order_by(schema.outbox.c.id)
        )
        return [(status, attempts) for status, attempts in result]


class FlakyBroker(InMemoryMessageBroker):
    """Refuses the messages whose payload index is in `failing`, as often as asked."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[int, int] = {}

    async def send_message(self, message: Message) -> None:
        index = int(message.payload["payload"]["index"])
        if self.failing.get(index, 0) > 0:
            self.failing[index] -= 1
            raise ConnectionError(f"refused {index}")
        await super().send_message(message)


async def test_the_documented_loop_publishes_the_outbox(
    engine: AsyncEngine, schema: Schema, outbox: SqlAlchemyOutboxedEventRepository
) -> None:
    events = await write(outbox, "u1", "u2", "u1", None, "u3")
    broker = InMemoryMessageBroker()
    producer = cqrs.EventProducer(broker, outbox)
    published = 0

    async for messages in producer.event_batch_generator(batch_size=2):
        for message in messages:
            await producer.send_message(message)
        await producer.repository.commit()
        published += len(messages)
        if published == len(events):  # the documented loop runs forever: end the test
            break

    assert [m.message_id for m in broker.messages] == [e.event_id for e in events]
    assert [dict(m.payload) for m in broker.messages] == [e.to_dict() for e in events]
    assert await statuses(engine, schema) == [("published", 1)] * 5


async def test_the_0_1_3_argument_order_publishes_too(
    engine: AsyncEngine, schema: Schema, outbox: SqlAlchemyOutboxedEventRepository
) -> None:
    [event] = await write(outbox, "u1")
    broker = InMemoryMessageBroker()
    producer = cqrs.EventProducer(outbox, broker)

    async for messages in producer.event_batch_generator():
        for message in messages:
            await producer.send_message(message)
        await producer.repository.commit()
        break

    assert producer.message_broker is broker
    assert [m.message_id for m in broker.messages] == [event.event_id]
    assert await statuses(engine, schema) == [("published", 1)]


async def test_a_relay_takes_nothing_the_producer_holds(
    engine: AsyncEngine, schema: Schema, outbox: SqlAlchemyOutboxedEventRepository
) -> None:
    await write(outbox, "u1", "u2", None)
    producer = cqrs.EventProducer(InMemoryMessageBroker(), outbox)
    generator = producer.event_batch_generator()
    other = SqlAlchemyOutboxStore(engine, schema)
    relay_broker = InMemoryMessageBroker()

    batch = await anext(generator)
    # PostgreSQL: the relay skips the locked rows at once; SQLite: it waits for the lock.
    relay = asyncio.ensure_future(OutboxRelay(other, relay_broker).run_once())
    for row in batch:
        await producer.send_message(row)
    await producer.repository.commit()
    relayed = await asyncio.wait_for(relay, 10)
    await generator.aclose()

    assert (len(batch), relayed, relay_broker.messages) == (3, 0, [])
    assert await statuses(engine, schema) == [("published", 1)] * 3


async def test_a_failed_row_backs_off_and_holds_back_its_key(
    engine: AsyncEngine,
    schema: Schema,
    outbox: SqlAlchemyOutboxedEventRepository,
    clock: FakeClock,
) -> None:
    events = await write(outbox, "u1", "u1", "u2")
    broker = FlakyBroker()
    broker.failing[0] = 1
    producer = cqrs.EventProducer(broker, outbox, retry=RETRY)
    generator = producer.event_batch_generator()

    outcomes = [await producer.send_message(row) for row in await anext(generator)]
    await producer.repository.commit()
    after_failure = await statuses(engine, schema)
    clock.advance(seconds=10)
    for row in await anext(generator):
        await producer.send_message(row)
    await producer.repository.commit()
    await generator.aclose()

    assert outcomes == [False, False, True]
    assert after_failure == [("pending", 1), ("pending", 0), ("published", 1)]
    assert [m.message_id for m in broker.messages] == [
        events[2].event_id,
        events[0].event_id,
        events[1].event_id,
    ]
    assert await statuses(engine, schema) == [("published", 2), ("published", 1), ("published", 1)]


async def test_rows_committed_while_the_generator_waits_are_handed_out(
    outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    # PostgreSQL wakes the generator by NOTIFY; SQLite finds the row at the next poll.
    producer = cqrs.EventProducer(InMemoryMessageBroker(), outbox, poll_interval=0.05)
    generator = producer.event_batch_generator()
    next_batch = asyncio.ensure_future(anext(generator))

    [event] = await write(outbox, "u1")
    batch = await asyncio.wait_for(next_batch, 10)
    await producer.repository.rollback()
    await generator.aclose()

    assert [row.message.message_id for row in batch] == [event.event_id]


def test_the_repository_is_importable_from_cqrs() -> None:
    assert cqrs.SqlAlchemyOutboxedEventRepository is SqlAlchemyOutboxedEventRepository


def test_the_store_runs_on_the_session_factory_engine(
    engine: AsyncEngine, outbox: SqlAlchemyOutboxedEventRepository
) -> None:
    assert (outbox.store.engine, outbox.store.schema) == (engine, outbox.schema)
    assert outbox.store is outbox.store


def test_an_unbound_session_factory_has_no_store_to_offer() -> None:
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker())

    with pytest.raises(cqrs.ConfigurationError, match="SqlAlchemyOutboxStore"):
        _ = outbox.store


async def test_the_repository_is_a_store_an_outbox_relay_accepts(
    engine: AsyncEngine, schema: Schema, outbox: SqlAlchemyOutboxedEventRepository
) -> None:
    events = await write(outbox, "u1", "u2")
    broker = InMemoryMessageBroker()

    assert await OutboxRelay(outbox, broker).run_once() == 2
    assert sorted(m.message_id for m in broker.messages) == sorted(e.event_id for e in events)
    assert await statuses(engine, schema) == [("published", 1)] * 2
