"""`cqrs_sqla.orm`: python-cqrs's ORM shapes over the default schema, and `rebind_outbox_model`."""

from __future__ import annotations

import collections.abc
import pathlib

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import async_sessionmaker

import cqrs
from cqrs.testing import registered_outbox_events
from cqrs_sqla.engine import create_engine
from cqrs_sqla.orm import Base, OutboxModel, SagaExecutionModel, rebind_outbox_model
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import default_schema


class Parcel(pydantic.BaseModel):
    parcel_id: str


@pytest.fixture
def restored_outbox() -> collections.abc.Iterator[None]:
    """`rebind_outbox_model` changes the process's default schema: put it back."""
    schema = default_schema()
    original = schema.outbox
    yield
    schema.outbox = original


def test_the_models_are_mapped_on_the_default_schema() -> None:
    schema = default_schema()

    assert Base.metadata is schema.metadata
    assert SagaExecutionModel.__table__ is schema.saga
    assert OutboxModel.__table__ is schema.outbox


def test_an_outbox_built_without_a_schema_uses_the_default_one() -> None:
    assert SqlAlchemyOutboxedEventRepository(async_sessionmaker()).schema is default_schema()


@pytest.mark.usefixtures("restored_outbox")
async def test_a_rebound_outbox_is_created_by_and_written_to_in_the_users_metadata(
    tmp_path: pathlib.Path,
) -> None:
    class AppBase(orm.DeclarativeBase):
        pass

    rebind_outbox_model(OutboxModel, AppBase, "app_outbox")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(AppBase.metadata.create_all)
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine))

    with registered_outbox_events({"parcel_weighed": cqrs.NotificationEvent[Parcel]}):
        async with outbox as session:
            outbox.add(
                session,
                cqrs.NotificationEvent[Parcel](
                    event_name="parcel_weighed", topic="parcels", payload=Parcel(parcel_id="p1")
                ),
            )
            await outbox.commit(session)

    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        rows = (await connection.execute(sa.text("SELECT event_name FROM app_outbox"))).all()
    await engine.dispose()
    assert "app_outbox" in AppBase.metadata.tables
    assert names == ["app_outbox"]
    assert [row[0] for row in rows] == ["parcel_weighed"]
