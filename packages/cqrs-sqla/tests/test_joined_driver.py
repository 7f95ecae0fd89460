"""The outbox write sent straight to asyncpg inside a session's transaction
(`cqrs_sqla.joined_driver`): in the transaction, seen by the session's later
statements, rolled back with it, errors as SQLAlchemy raised them, and the
session and its pool usable after; SQLAlchemy's path where it must be taken."""

from __future__ import annotations

import collections.abc
import typing

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import cqrs
from cqrs.clock import utc_now
from cqrs.outbox.repository import outbox_message
from cqrs.testing import registered_outbox_events
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.errors import DatabaseUnavailableError, IntegrityViolationError
from cqrs_sqla.joined_driver import execute_joined
from cqrs_sqla.notify import notifying_insert
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import terminate_connections

from .outbox_table import outbox_rows

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

Sessions = async_sessionmaker[AsyncSession]
EVENT = "sqla_joined_driver_test_paid"


class Paid(pydantic.BaseModel):
    order_id: str


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({EVENT: cqrs.NotificationEvent[Paid]}):
        yield


def paid(order_id: str) -> cqrs.NotificationEvent[Paid]:
    return cqrs.NotificationEvent[Paid](
        event_name=EVENT, topic="payments", payload=Paid(order_id=order_id)
    )


def write(schema: Schema, order_id: str) -> collections.abc.Callable[[Session], bool]:
    """The outbox row of `paid(order_id)`, sent by `execute_joined` on the session's
    connection (to run in `AsyncSession.run_sync`)."""
    values = outbox_values(outbox_message(paid(order_id), order_id), utc_now())

    def run(session: Session) -> bool:
        connection = session.connection()
        sql, parameters = notifying_insert(connection.dialect, schema.outbox, [values])
        return execute_joined(connection, sql, parameters)

    return run


def outbox_count(schema: Schema) -> sa.Select[tuple[int]]:
    return sa.select(sa.func.count()).select_from(schema.outbox)


async def test_a_write_sent_first_begins_the_sessions_transaction_and_its_statements_see_it(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    async with session_factory() as session:
        await session.begin()  # nothing sent yet: SQLAlchemy defers the BEGIN
        assert await session.run_sync(write(schema, "o-1"))
        assert await session.scalar(outbox_count(schema)) == 1  # same connection, same transaction
        async with engine.connect() as elsewhere:
            assert await elsewhere.scalar(outbox_count(schema)) == 0  # not committed yet
        await session.rollback()
        assert await session.scalar(outbox_count(schema)) == 0  # rolled back with it

        assert await session.run_sync(write(schema, "o-2"))  # the session works on
        await session.commit()

    assert [row.message.key for row in await outbox_rows(engine, schema)] == ["o-2"]


async def test_the_outbox_row_rolls_back_when_a_later_write_of_the_commit_fails(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    class Base(DeclarativeBase):
        metadata = schema.metadata

    class Order(Base):
        __tablename__ = f"{schema.outbox.name}_orders"
        id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)

    async with engine.begin() as connection:
        await connection.run_sync(schema.metadata.tables[Order.__tablename__].create)
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    async with outbox as session:
        session.add(Order(id="o-1"))
        await outbox.commit(session)

    async with outbox as session:
        # The commit inserts the outbox row first, then flushes the order, which is refused.
        session.add(Order(id="o-1"))
        outbox.add(session, paid("o-1"), key="o-1")
        with pytest.raises(IntegrityViolationError):
            await outbox.commit(session)
        assert len(await outbox_rows(engine, schema)) == 0
        await outbox.rollback(session)  # as after any failed flush

        session.add(Order(id="o-2"))  # the same session works on
        outbox.add(session, paid("o-2"), key="o-2")
        await outbox.commit(session)

    assert [row.message.key for row in await outbox_rows(engine, schema)] == ["o-2"]


async def test_a_second_row_with_the_same_event_id_raises_as_sqlalchemy_did(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    event_once = paid("o-1")
    async with outbox as session:
        outbox.add(session, event_once)
        await outbox.commit(session)

    async with session_factory() as session:
        outbox.add(session, event_once)
        with pytest.raises(sa_exc.IntegrityError) as raised:
            await session.commit()  # a plain commit: SQLAlchemy's error, as before
        adapted = raised.value.orig
        assert type(adapted).__name__ == "IntegrityError"  # the adapter's
        assert adapted is not None
        assert type(adapted.__cause__).__name__ == "UniqueViolationError"  # asyncpg's
        await session.rollback()  # as after any failed commit

        outbox.add(session, paid("o-2"))  # the session works on
        await session.commit()

    assert len(await outbox_rows(engine, schema)) == 2


async def test_a_connection_the_server_dropped_is_unavailable_and_not_lent_again(
    engine: AsyncEngine, schema: Schema, session_factory: Sessions, database_url: str
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)

    async with outbox as session:
        await session.execute(sa.text("SELECT 1"))  # the transaction is on a connection
        await terminate_connections(database_url)  # as a server restart would
        outbox.add(session, paid("o-1"))
        with pytest.raises(DatabaseUnavailableError, match="commit") as raised:
            await outbox.commit(session)

    cause = raised.value.__cause__
    assert isinstance(cause, sa_exc.DBAPIError)
    assert cause.connection_invalidated
    async with outbox as session:
        outbox.add(session, paid("o-2"))
        await outbox.commit(session)
    assert [row.message.key for row in await outbox_rows(engine, schema)] == [None]


def echoing(engine: AsyncEngine) -> None:
    engine.sync_engine.echo = True


def listened(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: None)  # pyright: ignore[reportUnknownLambdaType]


@pytest.mark.parametrize("watch", [echoing, listened])
async def test_statements_something_watches_go_through_sqlalchemy(
    engine: AsyncEngine,
    schema: Schema,
    session_factory: Sessions,
    watch: typing.Callable[[AsyncEngine], None],
) -> None:
    watch(engine)
    async with session_factory() as session, session.begin():
        assert not await session.run_sync(write(schema, "o-1"))
    assert len(await outbox_rows(engine, schema)) == 0  # nothing was sent
