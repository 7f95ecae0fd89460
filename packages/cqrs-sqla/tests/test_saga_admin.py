"""`SqlAlchemySagaAdmin` against the saga admin contract on PostgreSQL and SQLite, plus
what only it has: the resolution and its audit row in one transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cqrs.admin.sagas import SagaAdminStore
from cqrs.saga.models import SagaStatus
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_admin import SagaAdminContract
from cqrs_sqla.saga_admin import SqlAlchemySagaAdmin
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema


class TestSqlAlchemySagaAdmin(SagaAdminContract):
    @pytest.fixture
    def storage(
        self,
        clock: FakeClock,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema,
    ) -> SqlAlchemySagaStorage:
        return SqlAlchemySagaStorage(session_factory, schema, clock=clock)

    @pytest.fixture
    def admin_store(
        self,
        clock: FakeClock,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema,
    ) -> SagaAdminStore:
        return SqlAlchemySagaAdmin(session_factory, schema, clock=clock)


async def test_a_resolution_whose_audit_row_cannot_be_written_changes_nothing(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], schema: Schema
) -> None:
    storage = SqlAlchemySagaStorage(session_factory, schema)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {"parcel_id": "p-1"})
    await storage.update_status(saga_id, SagaStatus.COMPENSATION_FAILED)
    async with engine.begin() as connection:
        await connection.run_sync(schema.audit.drop)

    with pytest.raises(sa_exc.DBAPIError):
        await SqlAlchemySagaAdmin(session_factory, schema).resolve(
            saga_id, actor="alice", reason="refunded by hand"
        )

    state = await storage.load_saga_state(saga_id)
    assert (state.status, state.version) == (SagaStatus.COMPENSATION_FAILED, 1)
    assert await storage.get_step_history(saga_id) == []
