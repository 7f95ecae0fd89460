"""SqlAlchemyInbox: one effect per message, in the handler's transaction, on both databases."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import datetime
import pathlib
import types
import typing
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only

import cqrs
from cqrs.inbox import InvalidInboxKeyError
from cqrs_sqla import SqlAlchemyInbox
from cqrs_sqla.schema import Schema, TableNames, create_all
from cqrs_sqla.sqlite import create_sqlite_engine

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


class HandlerFailed(Exception):
    pass


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now


async def create_reservations(engine: AsyncEngine, schema: Schema) -> sa.Table:
    """The handler's business table, on the schema's metadata (dropped with it)."""
    table = sa.Table(
        f"{schema.inbox.name}_reservations",
        schema.metadata,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
    return table


@pytest.fixture
async def reservations(engine: AsyncEngine, schema: Schema) -> sa.Table:
    return await create_reservations(engine, schema)


async def handle(
    inbox: SqlAlchemyInbox,
    sessions: Sessions,
    reservations: sa.Table,
    message_id: uuid.UUID,
    *,
    consumer: str = "inventory",
    fail: bool = False,
) -> bool:
    """A typical idempotent handler; returns whether it had an effect."""
    async with sessions() as session, session.begin():
        if not await inbox.record(session, consumer, message_id):
            return False  # duplicate
        await session.execute(
            reservations.insert().values(consumer=consumer, message_id=message_id)
        )
        if fail:
            raise HandlerFailed
    return True


async def rows(engine: AsyncEngine, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    async with engine.connect() as connection:
        return list((await connection.execute(sa.select(table))).all())


async def test_first_delivery_is_new_and_a_redelivery_has_no_second_effect(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, reservations: sa.Table
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    first = await handle(inbox, session_factory, reservations, message_id)
    second = await handle(inbox, session_factory, reservations, message_id)

    assert (first, second) == (True, False)
    assert [row.message_id for row in await rows(engine, reservations)] == [message_id]
    assert [(r.consumer, r.message_id) for r in await rows(engine, schema.inbox)] == [
        ("inventory", message_id)
    ]


async def test_a_rolled_back_handler_leaves_no_record_so_the_redelivery_is_processed(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, reservations: sa.Table
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    with pytest.raises(HandlerFailed):
        await handle(inbox, session_factory, reservations, message_id, fail=True)
    assert await rows(engine, schema.inbox) == []
    assert await rows(engine, reservations) == []

    assert await handle(inbox, session_factory, reservations, message_id)
    assert len(await rows(engine, reservations)) == 1
    assert len(await rows(engine, schema.inbox)) == 1


async def test_the_same_transaction_sees_its_own_record(
    schema: Schema, session_factory: Sessions
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    async with session_factory() as session, session.begin():
        first = await inbox.record(session, "inventory", message_id)
        again = await inbox.record(session, "inventory", message_id)

    assert (first, again) == (True, False)


async def test_consumers_are_independent(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, reservations: sa.Table
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    results = [
        await handle(inbox, session_factory, reservations, message_id, consumer=consumer)
        for consumer in ("inventory", "billing", "inventory", "billing")
    ]

    assert results == [True, True, False, False]
    assert sorted(row.consumer for row in await rows(engine, reservations)) == [
        "billing",
        "inventory",
    ]


async def test_a_record_carries_the_clock_time(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    inbox = SqlAlchemyInbox(schema, clock=Clock())

    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", uuid.uuid4())

    assert [row.received_at for row in await rows(engine, schema.inbox)] == [T0]


def watch_sqlite_writes(engine: AsyncEngine, started: asyncio.Event) -> None:
    """On SQLite: set `started` when a connection of `engine` begins a locking statement.

    sqlite3's trace callback runs in the driver's thread as the statement
    starts executing, just before it asks for the write lock (`INSERT` on a
    plain engine, `BEGIN IMMEDIATE` on a configured one).
    """
    if engine.dialect.name != "sqlite":
        return
    loop = asyncio.get_running_loop()

    def trace(statement: str) -> None:
        if statement.startswith(("INSERT", "BEGIN IMMEDIATE")):
            loop.call_soon_threadsafe(started.set)

    def on_connect(dbapi_connection: typing.Any, _record: object) -> None:
        await_only(dbapi_connection.driver_connection.set_trace_callback(trace))

    sa.event.listen(engine.sync_engine, "connect", on_connect)


async def until_second_waits(engine: AsyncEngine, table: sa.Table, started: asyncio.Event) -> None:
    """Until the second delivery is stuck behind the first's uncommitted record.

    PostgreSQL shows it: a backend waits on a lock to insert into `table`.
    SQLite does not: its statement has begun, and cannot get the write lock.
    """
    if engine.dialect.name != "postgresql":
        await started.wait()
        return
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND position(:table in query) > 0"
    )
    async with engine.connect() as connection:
        # A transaction per poll: pg_stat_activity is a per-transaction snapshot.
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not (await connection.execute(query, {"table": table.name})).scalar_one():
            pass


async def race(
    inbox: SqlAlchemyInbox,
    first_engine: AsyncEngine,
    second_engine: AsyncEngine,
    table: sa.Table,
    reservations: sa.Table,
    *,
    first_commits: bool,
) -> tuple[bool, bool]:
    """Two deliveries of one message, the second arriving while the first is uncommitted.

    The first records and writes, then waits until the second is waiting for
    its lock before it commits or rolls back. Returns what each `record` said.
    """
    message_id = uuid.uuid4()
    first_recorded = asyncio.Event()
    second_started = asyncio.Event()
    watch_sqlite_writes(second_engine, second_started)

    async def first() -> bool:
        async with async_sessionmaker(first_engine)() as session:
            with contextlib.suppress(HandlerFailed):
                async with session.begin():
                    recorded = await inbox.record(session, "inventory", message_id)
                    await session.execute(
                        reservations.insert().values(consumer="inventory", message_id=message_id)
                    )
                    first_recorded.set()
                    await until_second_waits(first_engine, table, second_started)
                    if not first_commits:
                        raise HandlerFailed
        return recorded

    async def second() -> bool:
        await first_recorded.wait()
        return await handle(inbox, async_sessionmaker(second_engine), reservations, message_id)

    first_result, second_result = await asyncio.wait_for(
        asyncio.gather(first(), second()), timeout=30
    )
    return first_result, second_result


@contextlib.asynccontextmanager
async def another_engine(engine: AsyncEngine) -> collections.abc.AsyncIterator[AsyncEngine]:
    """A second engine on the same database: its statements can be watched apart."""
    other = sa.ext.asyncio.create_async_engine(engine.url)
    try:
        yield other
    finally:
        await other.dispose()


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_concurrent_deliveries_record_the_message_exactly_once(
    engine: AsyncEngine, schema: Schema, reservations: sa.Table, first_commits: bool
) -> None:
    inbox = SqlAlchemyInbox(schema)

    async with another_engine(engine) as second_engine:
        results = await race(
            inbox, engine, second_engine, schema.inbox, reservations, first_commits=first_commits
        )

    # Committed: the second finds the row. Rolled back: the second records it.
    assert results == (True, not first_commits)
    assert len(await rows(engine, schema.inbox)) == 1
    assert len(await rows(engine, reservations)) == 1


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_concurrent_deliveries_on_a_begin_immediate_sqlite_engine(
    tmp_path: pathlib.Path, first_commits: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'immediate.db'}"
    first_engine, second_engine = create_sqlite_engine(url), create_sqlite_engine(url)
    try:
        schema = Schema()
        await create_all(first_engine, schema)
        reservations = await create_reservations(first_engine, schema)
        inbox = SqlAlchemyInbox(schema)

        results = await race(
            inbox,
            first_engine,
            second_engine,
            schema.inbox,
            reservations,
            first_commits=first_commits,
        )

        assert results == (True, not first_commits)
        assert len(await rows(first_engine, reservations)) == 1
    finally:
        await first_engine.dispose()
        await second_engine.dispose()


async def test_many_simultaneous_deliveries_have_one_effect(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, reservations: sa.Table
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    results = await asyncio.gather(
        *(handle(inbox, session_factory, reservations, message_id) for _ in range(5))
    )

    assert sorted(results) == [False] * 4 + [True]
    assert len(await rows(engine, reservations)) == 1


async def test_under_repeatable_read_the_losing_postgresql_transaction_must_retry(
    postgres_url: str,
) -> None:
    url = sa.make_url(postgres_url)
    engine = sa.ext.asyncio.create_async_engine(url, isolation_level="REPEATABLE READ")
    prefix = f"rr{uuid.uuid4().hex[:8]}_"
    schema = Schema(
        TableNames(
            outbox=f"{prefix}outbox",
            inbox=f"{prefix}inbox",
            saga=f"{prefix}saga",
            saga_log=f"{prefix}saga_log",
            audit=f"{prefix}audit",
        )
    )
    try:
        await create_all(engine, schema)
        inbox = SqlAlchemyInbox(schema)
        sessions = async_sessionmaker(engine)
        message_id = uuid.uuid4()
        async with sessions() as first, sessions() as second:
            await first.begin()
            await second.begin()
            await second.execute(sa.select(1))  # takes its snapshot now
            assert await inbox.record(first, "inventory", message_id)
            await first.commit()

            with pytest.raises(sa.exc.DBAPIError, match="could not serialize"):
                await inbox.record(second, "inventory", message_id)
            await second.rollback()

            async with second.begin():  # the redelivery, in a fresh transaction
                assert not await inbox.record(second, "inventory", message_id)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(schema.metadata.drop_all)
        await engine.dispose()


async def test_purge_deletes_only_old_records(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    clock = Clock()
    inbox = SqlAlchemyInbox(schema, clock=clock)
    old, recent = uuid.uuid4(), uuid.uuid4()
    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", old)
        clock.now = T0 + datetime.timedelta(days=2)
        await inbox.record(session, "inventory", recent)

    purged = await inbox.purge(session_factory, T0 + datetime.timedelta(days=1))

    assert purged == 1
    assert [row.message_id for row in await rows(engine, schema.inbox)] == [recent]
    async with session_factory() as session, session.begin():
        assert await inbox.record(session, "inventory", old)  # forgotten: handled again
        assert not await inbox.record(session, "inventory", recent)


async def test_purge_on_a_session_runs_in_its_transaction(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    inbox = SqlAlchemyInbox(schema, clock=Clock())
    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", uuid.uuid4())
    cutoff = T0 + datetime.timedelta(seconds=1)

    async with session_factory() as session:
        async with session.begin():
            assert await inbox.purge(session, cutoff) == 1
            await session.rollback()
        assert len(await rows(engine, schema.inbox)) == 1

        async with session.begin():
            assert await inbox.purge(session, cutoff) == 1
    assert await rows(engine, schema.inbox) == []


async def test_purge_can_keep_to_one_consumer(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    inbox = SqlAlchemyInbox(schema, clock=Clock())
    message_id = uuid.uuid4()
    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", message_id)
        await inbox.record(session, "billing", message_id)

    purged = await inbox.purge(session_factory, T0 + datetime.timedelta(1), consumer="billing")

    assert purged == 1
    assert [row.consumer for row in await rows(engine, schema.inbox)] == ["inventory"]


async def test_purge_refuses_a_naive_cutoff(schema: Schema, session_factory: Sessions) -> None:
    with pytest.raises(ValueError, match="time zone aware"):
        await SqlAlchemyInbox(schema).purge(session_factory, datetime.datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("consumer", "message_id"),
    [("", uuid.uuid4()), ("x" * 256, uuid.uuid4()), ("inventory", str(uuid.uuid4()))],
    ids=["empty-consumer", "long-consumer", "str-id"],
)
async def test_an_unusable_key_is_refused_before_touching_the_database(
    schema: Schema, session_factory: Sessions, consumer: str, message_id: uuid.UUID
) -> None:
    async with session_factory() as session:
        with pytest.raises(InvalidInboxKeyError):
            await SqlAlchemyInbox(schema).record(session, consumer, message_id)
        assert not session.in_transaction()


async def test_a_naive_clock_is_refused(schema: Schema, session_factory: Sessions) -> None:
    inbox = SqlAlchemyInbox(schema, clock=lambda: datetime.datetime(2024, 1, 1))

    async with session_factory() as session:
        with pytest.raises(ValueError, match="naive"):
            await inbox.record(session, "inventory", uuid.uuid4())


async def test_another_database_is_refused_with_a_configuration_error() -> None:
    class OracleSession:
        def get_bind(self, clause: object = None) -> object:
            return types.SimpleNamespace(dialect=types.SimpleNamespace(name="oracle"))

    with pytest.raises(cqrs.ConfigurationError, match="PostgreSQL and SQLite, not 'oracle'"):
        await SqlAlchemyInbox(Schema()).record(OracleSession(), "inventory", uuid.uuid4())  # type: ignore[arg-type]


def test_satisfies_the_inbox_port() -> None:
    assert isinstance(SqlAlchemyInbox(Schema()), cqrs.InboxRepository)
