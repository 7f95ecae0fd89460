"""`SqlAlchemySagaStorage` against the saga storage contract on PostgreSQL and SQLite,
plus what only it has: the atomic outbox write, compression and NOTIFY."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from cqrs.compressors.zlib import ZlibCompressor
from cqrs.message_brokers.protocol import Message
from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_storage import SagaStorageContract
from cqrs_sqla.encoding import decode_payload
from cqrs_sqla.errors import DatabaseUnavailableError, IntegrityViolationError
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema
from cqrs_sqla.sqlite import configure_sqlite
from cqrs_sqla.testing import terminate_connections

from .relay_channel import notifications

_ACT, _STARTED = SagaStepAction.ACT, SagaStepStatus.STARTED


async def _outbox_messages(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema
) -> list[Message]:
    outbox = schema.outbox
    async with session_factory() as session:
        rows = (await session.execute(sa.select(outbox).order_by(outbox.c.id))).mappings().all()
    return [
        Message(
            message_name=row["event_name"],
            topic=row["topic"],
            payload=decode_payload(row["payload"], row["content_encoding"]),
            message_id=row["event_id"],
            key=row["partition_key"],
        )
        for row in rows
    ]


class TestSqlAlchemySagaStorage(SagaStorageContract):
    @pytest.fixture
    def storage(
        self,
        clock: FakeClock,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema,
    ) -> SqlAlchemySagaStorage:
        return SqlAlchemySagaStorage(session_factory, schema, clock=clock)

    async def staged_messages(self, storage: ISagaStorage) -> list[Message]:
        assert isinstance(storage, SqlAlchemySagaStorage)
        return await _outbox_messages(storage.session_factory, storage.schema)


def _message(name: str, message_id: uuid.UUID | None = None) -> Message:
    return Message(
        message_name=name,
        topic="parcels",
        payload={"parcel_id": "p-1", "note": "Zoë " * 50},
        message_id=message_id or uuid.uuid4(),
        key="p-1",
    )


async def test_a_record_step_whose_outbox_insert_fails_writes_nothing(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema
) -> None:
    clock = FakeClock()
    storage = SqlAlchemySagaStorage(session_factory, schema, clock=clock)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {"parcel_id": "p-1"})
    sent = _message("Weigh")
    version = await storage.record_step(
        saga_id, "Weigh", _ACT, _STARTED, context={"step": 1}, current_version=1, messages=[sent]
    )
    before = (await storage.load_saga_state(saga_id), await storage.get_step_history(saga_id))
    clock.advance(seconds=1)

    with pytest.raises(
        IntegrityViolationError, match=r"SqlAlchemySagaStorage\.record_step"
    ) as raised:
        await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _STARTED,
            context={"step": 2},
            current_version=version,
            saga_status=SagaStatus.RUNNING,
            error="should not stick",
            messages=[_message("Label"), _message("Again", sent.message_id)],
        )

    # The database's own refusal: through SQLAlchemy, or from asyncpg, which runs the
    # step's single statement on PostgreSQL.
    assert isinstance(raised.value.__cause__, (sa_exc.IntegrityError, asyncpg.UniqueViolationError))
    after = (await storage.load_saga_state(saga_id), await storage.get_step_history(saga_id))
    assert after == before
    assert after[0].version == version
    assert await _outbox_messages(session_factory, schema) == [sent]


async def test_messages_are_compressed_when_a_compressor_is_given(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema
) -> None:
    storage = SqlAlchemySagaStorage(session_factory, schema, compressor=ZlibCompressor())
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {})
    message = _message("Weigh")

    await storage.record_step(
        saga_id, "Weigh", _ACT, _STARTED, context={}, current_version=1, messages=[message]
    )

    outbox = schema.outbox
    async with session_factory() as session:
        row = (await session.execute(sa.select(outbox))).mappings().one()
    assert row["content_encoding"] == "zlib"
    assert b"parcel_id" not in row["payload"]
    assert len(row["payload"]) < len(str(message.payload).encode())
    assert await _outbox_messages(session_factory, schema) == [message]


async def test_the_default_clock_is_time_zone_aware_utc(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema
) -> None:
    storage = SqlAlchemySagaStorage(session_factory, schema)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {})

    await storage.log_step(saga_id, "Weigh", _ACT, _STARTED)

    (entry,) = await storage.get_step_history(saga_id)
    assert entry.timestamp.utcoffset() is not None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_record_step_with_messages_notifies_the_relays(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema, postgres_url: str
) -> None:
    storage = SqlAlchemySagaStorage(session_factory, schema)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {})
    async with notifications(postgres_url, schema) as heard:
        await storage.record_step(
            saga_id,
            "Label",
            _ACT,
            _STARTED,
            context={},
            current_version=1,
            messages=[_message("Label")],
        )

        await asyncio.wait_for(heard.get(), timeout=5)


async def test_configure_sqlite_refuses_a_second_call_and_leaves_other_engines_alone(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name == "sqlite":
        with pytest.raises(ValueError, match="configured for SQLite already"):
            configure_sqlite(engine)
    else:
        assert configure_sqlite(engine) is engine  # and again: nothing to configure
        assert configure_sqlite(engine) is engine


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_storage_recovers_when_the_server_drops_its_connections(
    session_factory: async_sessionmaker[AsyncSession], schema: Schema, postgres_url: str
) -> None:
    storage, saga_id = SqlAlchemySagaStorage(session_factory, schema), uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {"step": 0})
    await terminate_connections(postgres_url)  # as a server restart would

    outcomes: list[str] = []
    for _ in range(3):
        # Each call meets a pooled connection the server dropped, until the pool has
        # discarded them: a failing call must not hand its dead connection back.
        try:
            await storage.claim(saga_id, "worker", datetime.timedelta(seconds=30))
            outcomes.append("claimed")
        except DatabaseUnavailableError:
            outcomes.append("unavailable")

    assert outcomes[-1] == "claimed", outcomes
    assert (await storage.load_saga_state(saga_id)).context == {"step": 0}


async def _record_two_steps_on(
    connection: AsyncConnection, schema: Schema, saga_id: uuid.UUID
) -> list[str]:
    """Two steps recorded by a storage bound to `connection` (in its transaction), the
    second with a message; the SQL SQLAlchemy sent for the second."""
    joined = SqlAlchemySagaStorage(async_sessionmaker(connection), schema)
    # The first write begins the transaction (nothing has been sent on it yet).
    await joined.record_step(saga_id, "Weigh", _ACT, _STARTED, context={"n": 1}, current_version=1)
    sent: list[str] = []

    def note(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(connection.sync_engine, "before_cursor_execute", note)
    try:
        await joined.record_step(
            saga_id,
            "Label",
            _ACT,
            _STARTED,
            context={"n": 2},
            current_version=2,
            messages=[_message("Label")],
        )
    finally:
        event.remove(connection.sync_engine, "before_cursor_execute", note)
    return sent


@pytest.mark.parametrize("commit", [True, False])
async def test_a_storage_bound_to_a_connection_writes_in_its_transaction(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    schema: Schema,
    commit: bool,
) -> None:
    storage = SqlAlchemySagaStorage(session_factory, schema)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {"n": 0})

    async with engine.connect() as connection:
        transaction = await connection.begin()
        sent = await _record_two_steps_on(connection, schema, saga_id)
        await (transaction.commit() if commit else transaction.rollback())

    state, history = await storage.load_saga_state(saga_id), await storage.get_step_history(saga_id)
    if commit:
        assert (state.version, [entry.step_name for entry in history]) == (3, ["Weigh", "Label"])
        assert [m.message_name for m in await _outbox_messages(session_factory, schema)] == [
            "Label"
        ]
    else:
        assert (state.version, history) == (1, [])
        assert await _outbox_messages(session_factory, schema) == []
    # On PostgreSQL the step, its log entry and its message went in one statement on the
    # driver, in the open transaction; elsewhere one statement per table.
    assert len(sent) == (0 if engine.dialect.name == "postgresql" else 3)
