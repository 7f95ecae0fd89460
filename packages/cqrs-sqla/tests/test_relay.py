"""The SQL outbox relay: publish once, in key order, with backoff, dead rows and replay."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime
import random
import typing
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxStatus
from cqrs.outbox.relay import OutboxRelay, RetryPolicy
from cqrs.testing import BatchingBroker, FakeClock
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.postgres_claim import PostgresClaim
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema

NO_WAIT = RetryPolicy(max_attempts=3, initial_delay=datetime.timedelta(seconds=10))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.datetime.now(datetime.timezone.utc))


@pytest.fixture
async def store(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> collections.abc.AsyncIterator[SqlAlchemyOutboxStore]:
    store = SqlAlchemyOutboxStore(engine, schema, clock=clock)
    yield store
    await store.close()


async def write(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, *keys: str | None
) -> list[uuid.UUID]:
    messages = [
        Message(f"event{index}", "orders", {"index": index}, uuid.uuid4(), key=key)
        for index, key in enumerate(keys)
    ]
    async with engine.begin() as connection:
        await connection.execute(
            schema.outbox.insert(), [outbox_values(message, clock()) for message in messages]
        )
    return [message.message_id for message in messages]


async def statuses(engine: AsyncEngine, schema: Schema) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.select(schema.outbox.c.status, schema.outbox.c.attempts).order_by(schema.outbox.c.id)
        )
        return [(status, attempts) for status, attempts in result]


class FlakyBroker(InMemoryMessageBroker):
    """Fails the messages whose name is in `failing`, as many times as asked."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, int] = {}

    async def send_message(self, message: Message) -> None:
        if self.failing.get(message.message_name, 0) > 0:
            self.failing[message.message_name] -= 1
            raise ConnectionError(f"broker refused {message.message_name}")
        await super().send_message(message)


async def test_pending_rows_are_published_and_marked(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    ids = await write(engine, schema, clock, "a", "b", None)
    broker = InMemoryMessageBroker()

    assert await OutboxRelay(store, broker).run_once() == 3
    assert await OutboxRelay(store, broker).run_once() == 0

    assert sorted(m.message_id for m in broker.messages) == sorted(ids)
    assert await statuses(engine, schema) == [("published", 1)] * 3


async def test_a_failed_row_backs_off_and_holds_back_its_key_only(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await write(engine, schema, clock, "a", "a", "b")
    broker = FlakyBroker()
    broker.failing["event0"] = 1
    relay = OutboxRelay(store, broker, retry=NO_WAIT)

    assert await relay.run_once() == 1  # only b: a's second row waits behind its first
    assert [m.key for m in broker.messages] == ["b"]
    assert await relay.run_once() == 0  # a's first row is backing off

    clock.advance(seconds=10)
    assert await relay.run_once() == 2
    assert [m.message_name for m in broker.messages] == ["event2", "event0", "event1"]
    assert await statuses(engine, schema) == [("published", 2), ("published", 1), ("published", 1)]


@pytest.mark.parametrize("batches", [False, True], ids=["one-by-one", "in-batches"])
async def test_rows_held_back_behind_a_failing_row_are_not_charged(
    engine: AsyncEngine,
    schema: Schema,
    clock: FakeClock,
    store: SqlAlchemyOutboxStore,
    batches: bool,
) -> None:
    ids = await write(engine, schema, clock, "a", "a", "a", "b")
    broker = FlakyBroker()
    broker.failing["event0"] = NO_WAIT.max_attempts - 1
    relay = OutboxRelay(store, BatchingBroker(broker) if batches else broker, retry=NO_WAIT)

    for _ in range(NO_WAIT.max_attempts - 1):
        await relay.run_once()
        clock.advance(seconds=60)
    held_back = await statuses(engine, schema)
    while await relay.run_once():
        pass

    assert held_back == [("pending", 2), ("pending", 0), ("pending", 0), ("published", 1)]
    assert [m.message_id for m in broker.messages] == [ids[3], *ids[:3]]
    assert await statuses(engine, schema) == [("published", 3)] + [("published", 1)] * 3


async def test_a_row_that_keeps_failing_goes_dead_and_can_be_replayed(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    [event_id] = await write(engine, schema, clock, "a")
    broker = FlakyBroker()
    broker.failing["event0"] = 3
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


async def test_two_relays_at_once_publish_each_row_once(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> None:
    await write(engine, schema, clock, *[f"k{index % 7}" for index in range(60)])
    broker = InMemoryMessageBroker()
    stores = [SqlAlchemyOutboxStore(engine, schema, clock=clock) for _ in range(2)]
    relays = [OutboxRelay(store, broker, batch_size=10) for store in stores]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.run_once():
            pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    await asyncio.gather(*(drain(relay) for relay in relays))  # nothing left behind

    names = [m.message_name for m in broker.messages]
    assert sorted(names) == sorted(f"event{index}" for index in range(60))
    for key in range(7):
        in_key = [int(m.message_name[5:]) for m in broker.messages if m.key == f"k{key}"]
        assert in_key == sorted(in_key)


async def test_published_rows_are_purged_by_retention(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await write(engine, schema, clock, "a", "b")
    await OutboxRelay(store, InMemoryMessageBroker()).run_once()
    await write(engine, schema, clock, "c")

    assert await store.purge_published(clock() - datetime.timedelta(seconds=1)) == 0
    assert await store.purge_published(clock() + datetime.timedelta(seconds=1)) == 2
    assert await statuses(engine, schema) == [("pending", 0)]


async def test_the_relay_applies_the_retention_policy_on_its_schedule(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await write(engine, schema, clock, "a", "b")
    relay = OutboxRelay(
        store,
        InMemoryMessageBroker(),
        retention=datetime.timedelta(hours=1),
        purge_interval=datetime.timedelta(hours=2),
        clock=clock,
    )
    await relay.run_once()

    assert await relay.purge_if_due() == 0  # published just now: kept
    clock.advance(datetime.timedelta(minutes=90))
    assert await relay.purge_if_due() == 0  # old enough, but the last purge was 90 min ago
    clock.advance(datetime.timedelta(minutes=30))
    assert await relay.purge_if_due() == 2
    assert await statuses(engine, schema) == []


async def test_without_retention_the_relay_keeps_every_row(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await write(engine, schema, clock, "a")
    relay = OutboxRelay(store, InMemoryMessageBroker(), retention=None, clock=clock)
    await relay.run_once()
    clock.advance(datetime.timedelta(days=365))

    assert await relay.purge_if_due() == 0
    assert await statuses(engine, schema) == [("published", 1)]


async def test_each_key_keeps_its_order_through_several_failures(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    keys = ["a", "b", "c", "a", "b", "a", "c", "b", "a", "c", None]
    ids = await write(engine, schema, clock, *keys)
    broker = FlakyBroker()
    # a's first row fails twice, b's second and c's second once each.
    broker.failing.update({"event0": 2, "event4": 1, "event6": 1})
    retry = RetryPolicy(max_attempts=5, initial_delay=datetime.timedelta(seconds=10), multiplier=1)
    relay = OutboxRelay(store, broker, batch_size=4, retry=retry)

    first_pass = await relay.run_once()
    assert [m.message_name for m in broker.messages] == ["event1", "event2"]  # a is held back
    passes = 1
    while len(broker.messages) < len(keys):
        passes += 1
        assert passes < 30, f"relay stalled with {[m.message_name for m in broker.messages]}"
        if await relay.run_once() == 0:
            clock.advance(seconds=10)  # what is left is backing off

    assert first_pass == 2
    assert sorted(m.message_id for m in broker.messages) == sorted(ids)
    for key in ("a", "b", "c"):
        in_key = [m.message_id for m in broker.messages if m.key == key]
        assert in_key == [i for i, k in zip(ids, keys, strict=True) if k == key], key
    final = await statuses(engine, schema)
    assert {index: n for index, (_, n) in enumerate(final) if n > 1} == {0: 3, 4: 2, 6: 2}
    assert {status for status, _ in final} == {"published"}


async def test_claimed_messages_carry_the_stored_json_and_decode_it_on_read(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> None:
    message = Message("placed", "orders", {"order_id": "o1", "note": "é"}, uuid.uuid4(), key="o1")
    async with engine.begin() as connection:
        await connection.execute(
            schema.outbox.insert(), [outbox_values(message, clock(), ZlibCompressor())]
        )
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
    # What a server restart or an idle timeout does to the pooled connections,
    # from a connection outside the relay's pool.
    outsider = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with outsider.connect() as connection:
            await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await outsider.dispose()

    outcomes: list[int | str] = []
    for _ in range(3):
        try:
            outcomes.append(await relay.run_once())
        except Exception as exc:  # the pass that meets the dead connection fails
            outcomes.append(type(exc).__name__)

    assert 1 in outcomes, outcomes
    assert [m.key for m in broker.messages] == ["a", "b"]


class RandomlyFailingBroker(InMemoryMessageBroker):
    """Refuses about a fifth of the messages (seeded, so a run can be replayed), and
    yields to the loop on every send so that relays running at once interleave."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.random = random.Random(seed)

    async def send_message(self, message: Message) -> None:
        await asyncio.sleep(0)
        if self.random.random() < 0.2:
            raise ConnectionError(f"broker refused {message.message_name}")
        await super().send_message(message)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_relays_at_once_keep_each_keys_order_through_random_failures(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, seed: int
) -> None:
    keys = [f"k{index % 6}" for index in range(180)]
    ids = await write(engine, schema, clock, *keys)
    broker = RandomlyFailingBroker(seed)
    # Failed rows are due again at once, so the relays keep contending for them.
    retry = RetryPolicy(max_attempts=1000, initial_delay=datetime.timedelta(0))
    relays = [
        OutboxRelay(
            SqlAlchemyOutboxStore(engine, schema, clock=clock), broker, batch_size=7, retry=retry
        )
        for _ in range(4)
    ]

    async def drain(relay: OutboxRelay) -> None:
        for _ in range(2000):
            if len(broker.messages) == len(ids):
                return
            await relay.run_once()
        raise AssertionError(f"relays stalled after {len(broker.messages)} of {len(ids)}")

    await asyncio.gather(*(drain(relay) for relay in relays))

    assert sorted(m.message_id for m in broker.messages) == sorted(ids)  # each once
    for key in sorted(set(keys)):
        in_key = [m.message_id for m in broker.messages if m.key == key]
        assert in_key == [i for i, k in zip(ids, keys, strict=True) if k == key], key


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
