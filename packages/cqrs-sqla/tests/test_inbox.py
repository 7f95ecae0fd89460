"""`SqlAlchemyInbox` against the inbox contract on PostgreSQL and SQLite, plus what only
it has: the handler's own writes in the record's transaction, engines configured
differently, isolation levels, and purging on the caller's session."""

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
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import cqrs
from cqrs.inbox import InboxRecord, InvalidInboxKeyError
from cqrs.testing.clock import FakeClock
from cqrs.testing.inbox import InboxBackend, InboxContract
from cqrs_sqla import SqlAlchemyInbox
from cqrs_sqla.engine import create_engine
from cqrs_sqla.schema import Schema, TableNames, create_all

from .lock_waits import LockWaits

Sessions = async_sessionmaker[AsyncSession]


class SqlInboxBackend(InboxBackend[AsyncSession]):
    """The inbox on `engine`; records are read through `reader`, a second engine on
    the same database whose reads do not wait for the tests' write locks."""

    def __init__(
        self, inbox: SqlAlchemyInbox, engine: AsyncEngine, reader: AsyncEngine, schema: Schema
    ) -> None:
        self.inbox = self.sql = inbox
        self.sessions = async_sessionmaker(engine)
        self.reader = reader
        self.table = schema.inbox
        self.waits = LockWaits(schema.inbox, engine)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def records(self) -> list[InboxRecord]:
        async with self.reader.connect() as connection:
            result = await connection.execute(sa.select(self.table))
            return [InboxRecord(row.consumer, row.message_id, row.received_at) for row in result]

    async def purge(self, older_than: datetime.datetime) -> int:
        return await self.sql.purge(self.sessions, older_than)

    async def until_blocked(self) -> None:
        await self.waits.until_blocked()


class TestSqlAlchemyInbox(InboxContract[AsyncSession]):
    @pytest.fixture
    async def backend(
        self, clock: FakeClock, engine: AsyncEngine, schema: Schema
    ) -> collections.abc.AsyncIterator[SqlInboxBackend]:
        reader = create_async_engine(engine.url)
        try:
            yield SqlInboxBackend(SqlAlchemyInbox(schema, clock=clock), engine, reader, schema)
        finally:
            await reader.dispose()


class HandlerFailed(Exception):
    pass


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
    fail: bool = False,
) -> bool:
    """A typical idempotent handler; returns whether it had an effect."""
    async with sessions() as session, session.begin():
        if not await inbox.record(session, "inventory", message_id):
            return False  # duplicate
        await session.execute(
            reservations.insert().values(consumer="inventory", message_id=message_id)
        )
        if fail:
            raise HandlerFailed
    return True


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table)
        return (await connection.execute(query)).scalar_one()


async def test_the_handlers_writes_commit_and_roll_back_with_its_record(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, reservations: sa.Table
) -> None:
    inbox = SqlAlchemyInbox(schema)
    message_id = uuid.uuid4()

    with pytest.raises(HandlerFailed):
        await handle(inbox, session_factory, reservations, message_id, fail=True)
    assert (await count(engine, schema.inbox), await count(engine, reservations)) == (0, 0)

    results = await asyncio.gather(
        *(handle(inbox, session_factory, reservations, message_id) for _ in range(5))
    )

    assert sorted(results) == [False] * 4 + [True]
    assert (await count(engine, schema.inbox), await count(engine, reservations)) == (1, 1)


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
    waits = LockWaits(table, first_engine, second_engine)

    async def first() -> bool:
        recorded = False
        async with async_sessionmaker(first_engine)() as session:
            with contextlib.suppress(HandlerFailed):
                async with session.begin():
                    recorded = await inbox.record(session, "inventory", message_id)
                    await session.execute(
                        reservations.insert().values(consumer="inventory", message_id=message_id)
                    )
                    first_recorded.set()
                    await waits.until_blocked()
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


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_a_second_engine_that_begins_lazily_waits_for_the_first_delivery(
    engine: AsyncEngine, schema: Schema, reservations: sa.Table, first_commits: bool
) -> None:
    inbox = SqlAlchemyInbox(schema)
    # A plain engine: on SQLite its transaction takes the write lock at the INSERT.
    second_engine = create_async_engine(engine.url)
    try:
        results = await race(
            inbox, engine, second_engine, schema.inbox, reservations, first_commits=first_commits
        )
    finally:
        await second_engine.dispose()

    # Committed: the second finds the row. Rolled back: the second records it.
    assert results == (True, not first_commits)
    assert (await count(engine, schema.inbox), await count(engine, reservations)) == (1, 1)


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_concurrent_deliveries_on_two_begin_immediate_sqlite_engines(
    tmp_path: pathlib.Path, first_commits: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'immediate.db'}"
    first_engine, second_engine = create_engine(url), create_engine(url)
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
        assert await count(first_engine, reservations) == 1
    finally:
        await first_engine.dispose()
        await second_engine.dispose()


async def test_under_repeatable_read_the_losing_postgresql_transaction_must_retry(
    postgres_url: str,
) -> None:
    engine = create_async_engine(postgres_url, isolation_level="REPEATABLE READ")
    prefix = f"rr{uuid.uuid4().hex[:8]}_"
    schema = Schema(TableNames.prefixed(prefix))
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

            with pytest.raises(sa_exc.DBAPIError, match="could not serialize"):
                await inbox.record(second, "inventory", message_id)
            await second.rollback()

            async with second.begin():  # the redelivery, in a fresh transaction
                assert not await inbox.record(second, "inventory", message_id)
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(schema.metadata.drop_all)
        await engine.dispose()


async def test_purge_on_a_session_runs_in_its_transaction(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    clock = FakeClock()
    inbox = SqlAlchemyInbox(schema, clock=clock)
    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", uuid.uuid4())
    cutoff = clock() + datetime.timedelta(seconds=1)

    async with session_factory() as session:
        async with session.begin():
            assert await inbox.purge(session, cutoff) == 1
            await session.rollback()
        assert await count(engine, schema.inbox) == 1

        async with session.begin():
            assert await inbox.purge(session, cutoff) == 1
    assert await count(engine, schema.inbox) == 0


async def test_purge_can_keep_to_one_consumer(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    clock = FakeClock()
    inbox = SqlAlchemyInbox(schema, clock=clock)
    message_id = uuid.uuid4()
    async with session_factory() as session, session.begin():
        await inbox.record(session, "inventory", message_id)
        await inbox.record(session, "billing", message_id)

    purged = await inbox.purge(session_factory, clock() + datetime.timedelta(1), consumer="billing")

    assert purged == 1
    async with engine.connect() as connection:
        consumers = (await connection.execute(sa.select(schema.inbox.c.consumer))).scalars()
        assert list(consumers) == ["inventory"]


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


async def test_another_database_is_refused_with_a_configuration_error() -> None:
    class OracleSession:
        def get_bind(self, clause: object = None) -> object:
            return types.SimpleNamespace(dialect=types.SimpleNamespace(name="oracle"))

    oracle: typing.Any = OracleSession()
    with pytest.raises(cqrs.ConfigurationError, match="PostgreSQL and SQLite, not 'oracle'"):
        await SqlAlchemyInbox(Schema()).record(oracle, "inventory", uuid.uuid4())
