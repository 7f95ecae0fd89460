"""`SqlAlchemyOutboxAdmin` against the outbox admin contract on PostgreSQL and SQLite, plus
what only it has: the audit row in the change's transaction, the relays' wake-up call."""

from __future__ import annotations

import asyncio
import typing

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.admin.outbox import OutboxAdmin
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.relay import OutboxStore
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_admin import OutboxAdminContract, give_up_on_pending
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.notify import insert_notifying
from cqrs_sqla.outbox_admin import SqlAlchemyOutboxAdmin
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema

from .relay_channel import notifications


async def _write(store: SqlAlchemyOutboxStore, messages: list[Message]) -> None:
    rows = [outbox_values(message, store.clock(), store.compressor) for message in messages]
    async with store.engine.begin() as connection:
        await connection.run_sync(lambda sync: insert_notifying(sync, store.schema.outbox, rows))


class TestSqlAlchemyOutboxAdmin(OutboxAdminContract):
    @pytest.fixture
    def admin(self, clock: FakeClock, engine: AsyncEngine, schema: Schema) -> SqlAlchemyOutboxAdmin:
        return SqlAlchemyOutboxAdmin(SqlAlchemyOutboxStore(engine, schema, clock=clock))

    def relay_side(self, admin: OutboxAdmin) -> OutboxStore:
        assert isinstance(admin, SqlAlchemyOutboxAdmin)
        return admin.store

    async def write(self, admin: OutboxAdmin, messages: list[Message]) -> None:
        assert isinstance(admin, SqlAlchemyOutboxAdmin)
        await _write(admin.store, messages)


async def _one_dead_row(engine: AsyncEngine, schema: Schema) -> SqlAlchemyOutboxAdmin:
    admin = SqlAlchemyOutboxAdmin(SqlAlchemyOutboxStore(engine, schema))
    await _write(admin.store, [Message(message_name="Weighed", topic="parcels", payload={})])
    await give_up_on_pending(admin, admin.store)
    assert len((await admin.list_dead()).items) == 1
    return admin


async def _statuses(engine: AsyncEngine, schema: Schema) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(sa.select(schema.outbox.c.status))).scalars())


async def _replay(admin: SqlAlchemyOutboxAdmin, row_id: int) -> None:
    await admin.replay(row_id, actor="alice")


async def _discard(admin: SqlAlchemyOutboxAdmin, row_id: int) -> None:
    await admin.discard(row_id, actor="alice", reason="obsolete")


async def _replay_all(admin: SqlAlchemyOutboxAdmin, row_id: int) -> None:
    await admin.replay_all(actor="alice")


@pytest.mark.parametrize(
    "act", [_replay, _discard, _replay_all], ids=["replay", "discard", "replay_all"]
)
async def test_an_action_whose_audit_row_cannot_be_written_changes_nothing(
    engine: AsyncEngine,
    schema: Schema,
    act: typing.Callable[[SqlAlchemyOutboxAdmin, int], typing.Awaitable[object]],
) -> None:
    admin = await _one_dead_row(engine, schema)
    [row] = (await admin.list_dead()).items
    async with engine.begin() as connection:
        await connection.run_sync(schema.audit.drop)

    with pytest.raises(sa_exc.DBAPIError):
        await act(admin, row.id)

    assert await _statuses(engine, schema) == ["dead"]


async def test_a_discarded_row_is_stored_as_discarded(engine: AsyncEngine, schema: Schema) -> None:
    admin = await _one_dead_row(engine, schema)
    [row] = (await admin.list_dead()).items

    await admin.discard(row.id, actor="alice", reason="obsolete")

    assert await _statuses(engine, schema) == ["discarded"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_replay_wakes_the_relays_on_postgresql(
    engine: AsyncEngine, schema: Schema, postgres_url: str
) -> None:
    admin = await _one_dead_row(engine, schema)
    [row] = (await admin.list_dead()).items
    async with notifications(postgres_url, schema) as heard:
        await admin.replay(row.id, actor="alice")

        await asyncio.wait_for(heard.get(), timeout=30)
