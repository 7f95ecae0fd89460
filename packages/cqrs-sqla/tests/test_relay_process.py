"""The relay across processes and over time: a crash mid-claim, NOTIFY wake-ups, run_forever."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import datetime
import pathlib
import signal
import sqlite3
import sys
import uuid

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import cqrs
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.relay import OutboxRelay, RetryPolicy
from cqrs.testing import registered_outbox_events
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.notify import channel
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema

from .relay_channel import notifications

CHILD = pathlib.Path(__file__).with_name("relay_child.py")
PREFIX = "sqla_relay_process_test_"
DEADLINE = 20.0  # seconds; every wait below ends by then or fails


class Placed(pydantic.BaseModel):
    order_id: str


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events({f"{PREFIX}placed": cqrs.NotificationEvent[Placed]}):
        yield


@pytest.fixture
async def store(
    engine: AsyncEngine, schema: Schema
) -> collections.abc.AsyncIterator[SqlAlchemyOutboxStore]:
    store = SqlAlchemyOutboxStore(engine, schema)
    yield store
    await store.close()


def is_postgresql(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


async def insert(engine: AsyncEngine, schema: Schema, *keys: str | None) -> list[uuid.UUID]:
    """Write rows straight into the outbox table; return their event ids in id order."""
    messages = [
        Message(f"event{index}", "orders", {"index": index}, uuid.uuid4(), key=key)
        for index, key in enumerate(keys)
    ]
    now = datetime.datetime.now(datetime.timezone.utc)
    async with engine.begin() as connection:
        await connection.execute(
            schema.outbox.insert(),
            [outbox_values(message, now) for message in messages],
        )
    return [message.message_id for message in messages]


async def commit_event(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema, order_id: str
) -> uuid.UUID:
    """Commit one event the way a command handler does; return its id."""
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    event = cqrs.NotificationEvent[Placed](
        event_name=f"{PREFIX}placed", topic="orders", payload=Placed(order_id=order_id)
    )
    async with outbox as session:
        outbox.add(session, event, key=order_id)
        await outbox.commit(session)
    return event.event_id


async def statuses(engine: AsyncEngine, schema: Schema) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.select(schema.outbox.c.status, schema.outbox.c.attempts).order_by(schema.outbox.c.id)
        )
        return [(status, attempts) for status, attempts in result]


async def until(
    condition: collections.abc.Callable[[], collections.abc.Awaitable[bool]], what: str
) -> None:
    """Poll `condition` until it holds; fail after `DEADLINE` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {DEADLINE}s waiting for {what}")
        await asyncio.sleep(0.02)


def record_lines(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_relay_killed_between_publish_and_mark_is_made_good_with_the_same_ids(
    engine: AsyncEngine,
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    database_url: str,
    tmp_path: pathlib.Path,
) -> None:
    keys = [f"k{index % 3}" if index % 4 else None for index in range(12)]
    ids = await insert(engine, schema, *keys)
    record = tmp_path / "published.txt"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        database_url,
        schema.outbox.name,
        str(record),
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def child_published_its_batch() -> bool:
            if child.returncode is not None:
                _, stderr = await child.communicate()
                raise AssertionError(f"the child relay exited early:\n{stderr.decode()}")
            return "END" in record_lines(record)

        await until(child_published_its_batch, "the child relay to publish its batch")
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.communicate()
    assert child.returncode == -signal.SIGKILL

    published_by_child = [uuid.UUID(line) for line in record_lines(record) if line != "END"]
    assert sorted(published_by_child) == sorted(ids)
    assert await statuses(engine, schema) == [("pending", 0)] * 12  # published, never marked

    # A new relay: on PostgreSQL the dead child's locks go when the server notices the
    # closed socket, so drain until every row is out (or the deadline passes).
    broker = InMemoryMessageBroker()
    relay = OutboxRelay(store, broker, batch_size=1000)

    async def all_republished() -> bool:
        await relay.run_once()
        return len(broker.messages) >= len(ids)

    await until(all_republished, "a new relay to publish the rows again")

    assert sorted(m.message_id for m in broker.messages) == sorted(published_by_child)
    for key in {"k0", "k1", "k2"}:
        assert [m.message_id for m in broker.messages if m.key == key] == [
            event_id for event_id, row_key in zip(ids, keys, strict=True) if row_key == key
        ]
    assert await statuses(engine, schema) == [("published", 1)] * 12
    assert await relay.run_once() == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_notify_wakes_a_waiting_postgresql_relay_and_a_rollback_does_not(
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    loop = asyncio.get_running_loop()
    await store.wait_for_rows(0.01)  # starts listening

    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    started = loop.time()
    async with outbox as session:
        outbox.add(
            session,
            cqrs.NotificationEvent[Placed](
                event_name=f"{PREFIX}placed", topic="orders", payload=Placed(order_id="o0")
            ),
        )
        await outbox.rollback(session)
    await store.wait_for_rows(0.3)
    not_woken_by_rollback = loop.time() - started

    waiter = asyncio.ensure_future(store.wait_for_rows(30))
    await commit_event(session_factory, schema, "o1")
    await asyncio.wait_for(waiter, 10)

    assert not_woken_by_rollback >= 0.25


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_claim_forgets_the_notifications_of_the_rows_it_takes_and_no_later_one(
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await store.wait_for_rows(0.01)  # starts listening
    notified = store._notified  # pyright: ignore[reportPrivateUsage]

    async def heard() -> bool:
        return notified.is_set()

    await commit_event(session_factory, schema, "o1")
    await until(heard, "the first commit's notification")
    async with store.claim(10, RetryPolicy()) as claim:
        taken = [row.message.key for row in claim.rows]
        heard_after_taking = notified.is_set()
        await commit_event(session_factory, schema, "o2")
        await until(heard, "the notification of a commit made during the claim")
        for row in claim.rows:
            claim.published(row)

    assert taken == ["o1"]
    assert not heard_after_taking  # a wake now would only find the table empty
    # o2 committed after the claim's snapshot: its notification must still wake the relay.
    await asyncio.wait_for(store.wait_for_rows(30), DEADLINE)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_transaction_of_several_events_wakes_the_relays_once(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: async_sessionmaker[AsyncSession],
    postgres_url: str,
) -> None:
    async with notifications(postgres_url, schema) as heard:
        outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
        async with outbox as session:
            for order_id in ("o1", "o2", "o3"):
                outbox.add(
                    session,
                    cqrs.NotificationEvent[Placed](
                        event_name=f"{PREFIX}placed",
                        topic="orders",
                        payload=Placed(order_id=order_id),
                    ),
                )
            await outbox.commit(session)
        # Notifications arrive in commit order: everything the write sent comes before this.
        async with engine.begin() as connection:
            await connection.execute(sa.select(sa.func.pg_notify(channel(schema), "end")))
        payloads = [await asyncio.wait_for(heard.get(), DEADLINE)]
        while payloads[-1] != "end":
            payloads.append(await asyncio.wait_for(heard.get(), DEADLINE))

    assert payloads == ["", "end"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_relay_listens_again_after_its_connection_was_killed(
    engine: AsyncEngine,
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await store.wait_for_rows(0.01)  # starts listening
    listener = store._listener  # pyright: ignore[reportPrivateUsage]
    backend = await listener.fetchval("SELECT pg_backend_pid()")
    async with engine.connect() as connection:
        await connection.execute(sa.text(f"SELECT pg_terminate_backend({backend})"))

    async def listener_noticed() -> bool:
        return bool(listener.is_closed())

    await until(listener_noticed, "the listening connection to close")
    # Notifications may have been lost meanwhile: the first wait returns at once.
    await asyncio.wait_for(store.wait_for_rows(30), 10)
    waiter = asyncio.ensure_future(store.wait_for_rows(30))
    await commit_event(session_factory, schema, "o1")
    await asyncio.wait_for(waiter, 10)

    assert store._listener is not listener  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_closed_store_leaves_its_pooled_connection_listening_to_nothing(
    database_url: str, schema: Schema
) -> None:
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    try:
        store = SqlAlchemyOutboxStore(engine, schema)
        await store.wait_for_rows(0.01)
        listener = store._listener  # pyright: ignore[reportPrivateUsage]
        while_open = [row[0] for row in await listener.fetch("SELECT pg_listening_channels()")]
        await store.close()
        async with engine.connect() as connection:  # the pool's only connection: the same one
            result = await connection.execute(sa.text("SELECT pg_listening_channels()"))
            channels = list(result.scalars())
    finally:
        await engine.dispose()

    assert while_open == [channel(schema)]
    assert channels == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_commit_wakes_a_waiting_sqlite_relay_and_a_rollback_does_not(
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    loop = asyncio.get_running_loop()
    await store.wait_for_rows(0.01)  # starts watching
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    started = loop.time()
    async with outbox as session:
        outbox.add(
            session,
            cqrs.NotificationEvent[Placed](
                event_name=f"{PREFIX}placed", topic="orders", payload=Placed(order_id="o0")
            ),
        )
        await session.flush()  # the row reaches the file's journal, then goes away
        await outbox.rollback(session)
    await store.wait_for_rows(0.3)
    not_woken_by_rollback = loop.time() - started

    waiter = asyncio.ensure_future(store.wait_for_rows(30))
    await commit_event(session_factory, schema, "o1")
    await asyncio.wait_for(waiter, 10)  # long before the 30 s timeout

    assert not_woken_by_rollback >= 0.25


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_commit_by_another_process_wakes_a_waiting_sqlite_relay(
    engine: AsyncEngine, schema: Schema, store: SqlAlchemyOutboxStore, journal_mode: str
) -> None:
    database = engine.url.database
    assert database is not None
    # Set outside the engine, whose connections always begin a transaction first, and
    # with them closed: a file in WAL mode (the engine's) leaves it only when alone.
    # The watch opens none.
    await engine.dispose()
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(f"PRAGMA journal_mode = {journal_mode}")
    await store.wait_for_rows(0.01)  # starts watching
    waiter = asyncio.ensure_future(store.wait_for_rows(30))

    await write_in_another_process(database, f"INSERT INTO {schema.outbox.name} {OUTBOX_ROW}")
    await asyncio.wait_for(waiter, 10)  # long before the 30 s timeout


#: An outbox row as another process's plain INSERT writes it (id and status defaulted).
OUTBOX_ROW = (
    "(event_id, event_name, topic, payload, created_at, next_attempt_at)"
    " VALUES (lower(hex(randomblob(16))), 'e', 'orders', x'7b7d',"
    " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
)


async def write_in_another_process(database: str, *statements: str) -> None:
    """Run `statements` in one transaction of a plain sqlite3 connection in a child."""
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys\n"
        "with sqlite3.connect(sys.argv[1]) as c:\n"
        "    for statement in sys.argv[2:]: c.execute(statement)",
        database,
        *statements,
    )
    assert await asyncio.wait_for(writer.wait(), DEADLINE) == 0


@pytest.fixture
def sqlite_file(engine: AsyncEngine) -> str:
    """The path of the SQLite test database."""
    database = engine.url.database
    assert database is not None
    return database


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_waiting_sqlite_relay_sleeps_through_commits_that_add_no_outbox_row(
    engine: AsyncEngine, schema: Schema, store: SqlAlchemyOutboxStore, sqlite_file: str
) -> None:
    await insert(engine, schema, "k")
    relay = OutboxRelay(store, InMemoryMessageBroker(), batch_size=10)
    assert await relay.run_once() == 1  # published and marked: no pending row left
    await write_in_another_process(sqlite_file, "CREATE TABLE elsewhere (x)")
    await store.wait_for_rows(0.01)  # starts watching

    waiter = asyncio.ensure_future(store.wait_for_rows(30))
    await write_in_another_process(sqlite_file, "INSERT INTO elsewhere VALUES (1)")
    await write_in_another_process(sqlite_file, f"UPDATE {schema.outbox.name} SET attempts = 7")
    # The watch has seen both commits once its signature is the file's (the probe
    # looks in the same step): the relay still waits, as neither added an outbox row.
    await until(_watch_caught_up(store), "the watch to see the commits")
    not_woken = not waiter.done()
    await write_in_another_process(sqlite_file, f"INSERT INTO {schema.outbox.name} {OUTBOX_ROW}")
    await asyncio.wait_for(waiter, 10)  # long before the 30 s timeout

    assert not_woken


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_after_a_failed_claim_any_commit_wakes_a_waiting_sqlite_relay(
    engine: AsyncEngine, schema: Schema, store: SqlAlchemyOutboxStore, sqlite_file: str
) -> None:
    await store.wait_for_rows(0.01)  # starts watching
    await insert(engine, schema, "k")
    await store.wait_for_rows(30)  # the row: the newest pending one, seen
    claimed: list[int] = []

    async def fail_to_publish() -> None:
        async with store.claim(10, RetryPolicy()) as claim:
            claimed.extend(row.id for row in claim.rows)
            raise RuntimeError("publishing failed")

    with pytest.raises(RuntimeError, match="publishing failed"):
        await fail_to_publish()
    assert len(claimed) == 1

    waiter = asyncio.ensure_future(store.wait_for_rows(30))
    # No new outbox row, but the row the probe saw is pending and unclaimed again.
    await write_in_another_process(sqlite_file, "CREATE TABLE elsewhere (x)")
    await asyncio.wait_for(waiter, 10)  # long before the 30 s timeout


def _watch_caught_up(
    store: SqlAlchemyOutboxStore,
) -> collections.abc.Callable[[], collections.abc.Awaitable[bool]]:
    watch = store._commits  # pyright: ignore[reportPrivateUsage]
    assert watch is not None

    async def check() -> bool:
        return watch._seen == watch.signature()  # pyright: ignore[reportPrivateUsage]

    return check


async def test_run_forever_publishes_rows_written_while_it_runs_and_stops_when_told(
    engine: AsyncEngine,
    schema: Schema,
    store: SqlAlchemyOutboxStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # On PostgreSQL the poll interval is long: the rows must arrive by NOTIFY, and
    # the stop by the event, not by the end of a poll.
    poll_interval = 60.0 if is_postgresql(engine) else 0.05
    broker = InMemoryMessageBroker()
    relay = OutboxRelay(store, broker, batch_size=3, poll_interval=poll_interval)
    stop = asyncio.Event()
    running = asyncio.ensure_future(relay.run_forever(stop))
    written: list[uuid.UUID] = []

    for round_ in range(3):
        if is_postgresql(engine):
            # Listening starts with the relay's first wait: rows committed before it
            # would only be found by the (long) poll.
            await until(_listening(store), "the relay to listen")
        written += [await commit_event(session_factory, schema, f"o{round_}-{n}") for n in range(4)]

        async def caught_up(expected: int = len(written)) -> bool:
            return len(broker.messages) >= expected

        await until(caught_up, f"round {round_} to be published")
    stop.set()
    await asyncio.wait_for(running, 10)

    assert sorted(m.message_id for m in broker.messages) == sorted(written)
    assert len(broker.messages) == len(written) == 12
    assert await statuses(engine, schema) == [("published", 1)] * 12


def _listening(
    store: SqlAlchemyOutboxStore,
) -> collections.abc.Callable[[], collections.abc.Awaitable[bool]]:
    async def check() -> bool:
        return store._listener is not None  # pyright: ignore[reportPrivateUsage]

    return check
