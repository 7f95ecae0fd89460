"""The SQL outbox repository as the store of `cqrs.EventProducer` and `OutboxRelay`, on
PostgreSQL and SQLite.

The producer's loop, failures and wake-ups on `SqlAlchemyOutboxStore` are in the
outbox store contract, run in test_relay.py."""

from __future__ import annotations

import collections.abc
import datetime

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import cqrs
from cqrs.compressors import zlib
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox import OutboxRelay, RetryPolicy
from cqrs.testing import FakeClock, registered_outbox_events
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
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
