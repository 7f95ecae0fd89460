"""cqrs-sqla's errors: the tree drawn in cqrs_sqla/errors.py, driver errors mapped at the
adapters' boundary (chained), and databases the adapters cannot use refused when built."""

from __future__ import annotations

import collections.abc
import socket
import typing
import uuid

import pydantic
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
from cqrs.outbox.relay import RetryPolicy
from cqrs.testing import registered_outbox_events
from cqrs.testing.error_tree import error_tree_problems
from cqrs_sqla import (
    SqlAlchemyInbox,
    SqlAlchemyOutboxAdmin,
    SqlAlchemyOutboxStore,
    SqlAlchemySagaAdmin,
    SqlAlchemySagaStorage,
    errors,
)
from cqrs_sqla.errors import (
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidDataError,
    UnsupportedDatabaseError,
)
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import terminate_connections

Sessions = async_sessionmaker[AsyncSession]
EVENT = "sqla_errors_test_joined"


class Joined(pydantic.BaseModel):
    user_id: str


def unused_port() -> int:
    """A local port nothing listens on (the system's pick of a free one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_tree_in_the_docstring_draws_every_error_as_it_is() -> None:
    assert error_tree_problems(errors, "cqrs_sqla") == []


async def dead_rows(engine: AsyncEngine) -> object:
    return await SqlAlchemyOutboxStore(engine, Schema()).dead_rows()


async def outbox_stats(engine: AsyncEngine) -> object:
    return await SqlAlchemyOutboxAdmin(SqlAlchemyOutboxStore(engine, Schema())).stats()


async def list_sagas(engine: AsyncEngine) -> object:
    return await SqlAlchemySagaAdmin(async_sessionmaker(engine), Schema()).list_sagas()


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (dead_rows, r"SqlAlchemyOutboxStore\.dead_rows"),
        (outbox_stats, r"SqlAlchemyOutboxAdmin\.stats"),
        (list_sagas, r"SqlAlchemySagaAdmin\.list_sagas"),
    ],
    ids=["store", "outbox-admin", "saga-admin"],
)
async def test_a_database_that_does_not_answer_is_unavailable(
    call: collections.abc.Callable[[AsyncEngine], collections.abc.Awaitable[object]], named: str
) -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_port()}/app")
    try:
        with pytest.raises(DatabaseUnavailableError, match=named) as raised:
            await call(engine)
    finally:
        await engine.dispose()

    assert isinstance(raised.value, ConnectionError)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_the_server_dropped_is_unavailable_and_the_next_call_works(
    database_url: str, schema: Schema, session_factory: Sessions
) -> None:
    inbox = SqlAlchemyInbox(schema)

    async def dropped_while_in_use() -> None:
        async with session_factory() as session, session.begin():
            await inbox.record(session, "inventory", uuid.uuid4())  # the connection in use
            await terminate_connections(database_url)  # as a server restart would
            await inbox.record(session, "inventory", uuid.uuid4())

    with pytest.raises(DatabaseUnavailableError, match=r"SqlAlchemyInbox\.record") as raised:
        await dropped_while_in_use()

    cause = raised.value.__cause__
    assert isinstance(cause, sa_exc.DBAPIError)
    assert cause.connection_invalidated
    async with session_factory() as session, session.begin():
        assert await inbox.record(session, "inventory", uuid.uuid4())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_claim_on_a_connection_the_server_ended_while_idle_is_unavailable(
    engine: AsyncEngine, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncpg has read the server's termination notice but not yet the socket's end:
    # it is busy with the notice, and fails the claim's BEGIN so (seen after a restart).
    asyncpg = pytest.importorskip("asyncpg")
    store = SqlAlchemyOutboxStore(engine, schema)
    used: list[typing.Any] = []

    async def busy(connection: typing.Any, query: str, *args: object, **kwargs: object) -> str:
        used.append(connection)
        raise asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    with monkeypatch.context() as patch:
        patch.setattr(asyncpg.Connection, "execute", busy)
        with pytest.raises(DatabaseUnavailableError, match=r"PostgresClaim") as raised:
            async with store.claim(10, RetryPolicy()):
                pass

    assert isinstance(raised.value.__cause__, asyncpg.exceptions.InternalClientError)
    [connection] = used
    assert connection.is_closed()  # discarded, not handed to the next claim
    async with store.claim(10, RetryPolicy()) as claim:
        assert claim.rows == []


@pytest.fixture
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({EVENT: cqrs.NotificationEvent[Joined]}):
        yield


@pytest.mark.usefixtures("registered")
async def test_an_event_written_twice_is_an_integrity_violation(
    schema: Schema, session_factory: Sessions
) -> None:
    outbox = SqlAlchemyOutboxedEventRepository(session_factory, schema=schema)
    event = cqrs.NotificationEvent[Joined](
        event_name=EVENT, topic="users", payload=Joined(user_id="u1")
    )
    async with outbox as session:
        outbox.add(session, event)
        await outbox.commit(session)

    async with outbox as session:
        outbox.add(session, event)
        with pytest.raises(IntegrityViolationError, match="commit") as raised:
            await outbox.commit(session)

    assert isinstance(raised.value.__cause__, sa_exc.IntegrityError)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_nul_character_in_postgresql_text_is_invalid_data(
    schema: Schema, session_factory: Sessions
) -> None:
    with pytest.raises(InvalidDataError, match="NUL") as raised:
        async with session_factory() as session, session.begin():
            await SqlAlchemyInbox(schema).record(session, "inven\x00tory", uuid.uuid4())

    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value.__cause__, sa_exc.DBAPIError)


@pytest.fixture
async def psycopg_engine(postgres_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    pytest.importorskip("psycopg", reason="psycopg is a dev dependency, not one of cqrs-sqla's")
    url = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


def test_the_outbox_store_refuses_a_postgresql_driver_other_than_asyncpg(
    psycopg_engine: AsyncEngine,
) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="needs the asyncpg driver") as raised:
        SqlAlchemyOutboxStore(psycopg_engine, Schema())

    assert "postgresql+asyncpg://" in str(raised.value)
    assert isinstance(raised.value, cqrs.ConfigurationError)


def outbox_repository(sessions: Sessions) -> object:
    return SqlAlchemyOutboxedEventRepository(sessions)


def saga_storage(sessions: Sessions) -> object:
    return SqlAlchemySagaStorage(sessions, Schema())


def saga_admin(sessions: Sessions) -> object:
    return SqlAlchemySagaAdmin(sessions, Schema())


@pytest.mark.parametrize("build", [outbox_repository, saga_storage, saga_admin])
def test_the_adapters_given_sessions_refuse_it_when_built(
    psycopg_engine: AsyncEngine, build: collections.abc.Callable[[Sessions], object]
) -> None:
    with pytest.raises(UnsupportedDatabaseError, match=r"postgresql\+asyncpg://"):
        build(async_sessionmaker(psycopg_engine))


async def test_the_inbox_refuses_it_before_its_first_statement(
    psycopg_engine: AsyncEngine,
) -> None:
    # psycopg does not say whether ON CONFLICT DO NOTHING wrote the row (rowcount -1):
    # every message would look like a duplicate and be dropped.
    async with async_sessionmaker(psycopg_engine)() as session:
        with pytest.raises(UnsupportedDatabaseError, match="asyncpg"):
            await SqlAlchemyInbox(Schema()).record(session, "inventory", uuid.uuid4())
        assert not session.in_transaction()
