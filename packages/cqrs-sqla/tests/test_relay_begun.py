"""A PostgreSQL relay's claims, once its store waits for rows, keep their connection with
the next claim's transaction begun by the round trip that commits the last one
(`cqrs_sqla.postgres_claim.BegunConnection`): two statements a claim, a kept transaction
that holds no snapshot and no lock, rows committed meanwhile seen, and the connection
handed back on close or replaced when the server dropped it."""

from __future__ import annotations

import asyncio
import typing

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.relay import OutboxRelay, RetryPolicy
from cqrs.testing.clock import FakeClock
from cqrs_sqla.postgres_claim import PostgresClaim
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import terminate_connections

from .outbox_table import outbox_rows, write_rows

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def write(engine: AsyncEngine, schema: Schema, clock: FakeClock, key: str) -> None:
    await write_rows(engine, schema, [Message("placed", "orders", {"key": key}, key=key)], clock())


async def claim_all(store: SqlAlchemyOutboxStore) -> tuple[int, list[str]]:
    """Claim and publish every due row; return the claim's server pid and the rows' keys."""
    async with store.claim(10, RetryPolicy()) as claim:
        driver = typing.cast(PostgresClaim, claim)._driver  # pyright: ignore[reportPrivateUsage]
        pid = typing.cast(int, driver.get_server_pid())
        for row in claim.rows:
            claim.published(row)
        return pid, [typing.cast(str, row.message.key) for row in claim.rows]


def checked_out(engine: AsyncEngine) -> int:
    """How many of the engine's pooled connections are lent out."""
    pool: typing.Any = engine.pool
    return pool.checkedout()


async def backend(engine: AsyncEngine, pid: int) -> tuple[str | None, bool, list[str]]:
    """The state of backend `pid`, whether it holds a snapshot, and the kinds of the locks
    it holds, seen from a connection outside `engine`'s pool."""
    outsider = create_async_engine(engine.url, poolclass=NullPool)
    async with outsider.connect() as connection:
        activity = (
            await connection.execute(
                sa.text("SELECT state, backend_xmin FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
        ).one_or_none()
        locks = (
            await connection.execute(
                sa.text("SELECT locktype FROM pg_locks WHERE pid = :pid ORDER BY locktype"),
                {"pid": pid},
            )
        ).scalars()
        kinds = list(locks)
    await outsider.dispose()
    if activity is None:
        return None, False, kinds
    return activity.state, activity.backend_xmin is not None, kinds


async def test_a_waiting_stores_next_claim_runs_on_the_kept_connection_in_two_statements(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await store.wait_for_rows(0)
    await write(engine, schema, clock, "a")
    first_pid, first_keys = await claim_all(store)
    state, has_snapshot, locks = await backend(engine, first_pid)
    await write(engine, schema, clock, "b")  # committed after the kept transaction began
    kept = typing.cast(typing.Any, store._begun._kept)  # pyright: ignore[reportPrivateUsage]
    sent: list[str] = []

    def log(record: typing.Any) -> None:
        sent.append(record.query)

    kept[1].add_query_logger(log)

    second_pid, second_keys = await claim_all(store)
    await asyncio.sleep(0)  # asyncpg hands query loggers their records with call_soon

    assert (first_keys, second_keys) == (["a"], ["b"])
    assert second_pid == first_pid
    # Begun, and holding nothing: no snapshot for vacuum to wait on, only its own id's lock.
    assert (state, has_snapshot, locks) == ("idle in transaction", False, ["virtualxid"])
    assert len(sent) == 2, sent  # the take; the marks, the commit and the next BEGIN
    assert "; COMMIT; BEGIN;" in sent[1], sent
    assert [(row.status.value, row.attempts) for row in await outbox_rows(engine, schema)] == [
        ("published", 1),
        ("published", 1),
    ]


async def test_a_store_that_does_not_wait_hands_each_claims_connection_back(
    engine: AsyncEngine, schema: Schema, clock: FakeClock, store: SqlAlchemyOutboxStore
) -> None:
    await write(engine, schema, clock, "a")

    pid, keys = await claim_all(store)

    assert keys == ["a"]
    assert checked_out(engine) == 0
    assert (await backend(engine, pid))[0] == "idle"


async def test_closing_the_store_rolls_the_kept_transaction_back_and_hands_it_back(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> None:
    store = SqlAlchemyOutboxStore(engine, schema, clock=clock)
    await store.wait_for_rows(0)
    await write(engine, schema, clock, "a")
    pid, _ = await claim_all(store)
    held = checked_out(engine)

    await store.close()

    assert held == 2  # the listener and the kept connection
    assert checked_out(engine) == 0
    assert (await backend(engine, pid))[0] == "idle"


async def test_a_kept_connection_the_server_dropped_is_replaced(
    database_url: str,
    engine: AsyncEngine,
    schema: Schema,
    clock: FakeClock,
    store: SqlAlchemyOutboxStore,
) -> None:
    broker = InMemoryMessageBroker()
    relay = OutboxRelay(store, broker, batch_size=1)
    await store.wait_for_rows(0)
    await write(engine, schema, clock, "a")
    assert await relay.run_once() == 1
    await terminate_connections(database_url)  # as a server restart would
    await write(engine, schema, clock, "b")

    outcomes: list[int | str] = []
    for _ in range(3):
        try:
            outcomes.append(await relay.run_once())
        except Exception as exc:  # a pass that meets the dead connection fails
            outcomes.append(type(exc).__name__)

    assert 1 in outcomes, outcomes
    assert set(outcomes) - {0, 1} <= {"DatabaseUnavailableError"}, outcomes
    assert [m.key for m in broker.messages] == ["a", "b"]


async def test_a_kept_connection_ended_by_the_idle_in_transaction_timeout_is_replaced_quietly(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> None:
    # Sites often set `idle_in_transaction_session_timeout`; the server then ends the
    # kept connection between claims. The next pass must not fail for it.
    timed_out = create_async_engine(
        engine.url,
        connect_args={"server_settings": {"idle_in_transaction_session_timeout": "200"}},
    )
    store = SqlAlchemyOutboxStore(timed_out, schema, clock=clock)
    broker = InMemoryMessageBroker()
    relay = OutboxRelay(store, broker, batch_size=1)
    try:
        await store.wait_for_rows(0)
        await write(engine, schema, clock, "a")
        assert await relay.run_once() == 1
        kept = typing.cast(typing.Any, store._begun._kept)  # pyright: ignore[reportPrivateUsage]
        pid = typing.cast(int, kept[1].get_server_pid())
        deadline = asyncio.get_running_loop().time() + 10
        while (await backend(engine, pid))[0] is not None:  # the server ends it
            assert asyncio.get_running_loop().time() < deadline, "the timeout never fired"
            await asyncio.sleep(0.05)
        await write(engine, schema, clock, "b")

        assert await relay.run_once() == 1  # no error: the dead connection is replaced
        assert [m.key for m in broker.messages] == ["a", "b"]
    finally:
        await store.close()
        await timed_out.dispose()
