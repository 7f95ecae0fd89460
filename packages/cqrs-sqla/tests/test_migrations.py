"""The Alembic revisions: they build the models' schema, and upgrade 0.1.0's in place."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime
import pathlib
import typing
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.engine import create_engine
from cqrs_sqla.migrations import VERSION_LOCATION, VERSION_TABLE, heads, pending, upgrade
from cqrs_sqla.schema import Schema, TableNames, create_all
from cqrs_sqla.testing import throwaway_postgres_database

from .schema_0_1_0 import metadata_0_1_0

NOW = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> collections.abc.Iterator[str]:
    """A database with no table at all, one per test."""
    if request.param == "postgresql":
        with throwaway_postgres_database("cqrs_migrations") as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"


@pytest.fixture
async def empty_engine(empty_database_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_database_url)
    yield engine
    await engine.dispose()


async def differences(
    engine: AsyncEngine, metadata: sa.MetaData | list[sa.MetaData], version_table: str
) -> list[typing.Any]:
    """What Alembic's autogenerate would change to make the database match `metadata`."""

    def compare(connection: sa.Connection) -> list[typing.Any]:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return list(compare_metadata(context, metadata))  # pyright: ignore[reportArgumentType]

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


async def test_an_empty_database_upgraded_to_head_matches_the_models(
    empty_engine: AsyncEngine,
) -> None:
    await upgrade(empty_engine)

    # Fails when a model changes without a revision (or a revision without the model).
    assert await differences(empty_engine, Schema().metadata, VERSION_TABLE) == []


async def test_the_comparison_finds_what_no_revision_made(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine, revision="cqrs_sqla_0002")

    found = await differences(empty_engine, Schema().metadata, VERSION_TABLE)

    # A change is a tuple, or a list of tuples for a table's column changes.
    flat: list[typing.Any] = []
    for item in found:
        flat.extend(typing.cast("list[typing.Any]", item) if isinstance(item, list) else [item])
    assert {(change[0], getattr(change[-1], "name", None)) for change in flat} == {
        ("add_table", "idempotency"),
        ("add_index", "ix_idempotency_created_at"),
        ("add_column", "trace_context"),
    }


async def test_the_revisions_use_the_table_names_given(empty_engine: AsyncEngine) -> None:
    names = TableNames(
        outbox="my_outbox",
        inbox="my_inbox",
        saga="my_saga",
        saga_log="my_log",
        audit="my_audit",
        idempotency="my_keys",
    )

    await upgrade(empty_engine, names)

    assert await differences(empty_engine, Schema(names).metadata, VERSION_TABLE) == []


async def test_upgrading_twice_changes_nothing(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    await upgrade(empty_engine)

    async with empty_engine.connect() as connection:
        versions = (await connection.execute(sa.text(f"SELECT * FROM {VERSION_TABLE}"))).all()
    assert len(versions) == 1


async def test_a_0_1_0_database_upgrades_with_its_rows_intact(empty_engine: AsyncEngine) -> None:
    old = metadata_0_1_0()
    async with empty_engine.begin() as connection:
        await connection.run_sync(old.create_all)
        rows = await insert_a_row_in_every_table(connection, old)

    await upgrade(empty_engine)

    async with empty_engine.connect() as connection:
        for table, row in rows.items():
            stored = (await connection.execute(sa.select(old.tables[table]))).mappings().all()
            assert [dict(r) for r in stored] == [row], table
    assert await differences(empty_engine, Schema().metadata, VERSION_TABLE) == []


async def insert_a_row_in_every_table(
    connection: typing.Any, metadata: sa.MetaData
) -> dict[str, dict[str, typing.Any]]:
    saga_id = uuid.uuid4()
    rows: dict[str, dict[str, typing.Any]] = {
        "outbox": {
            "id": 1,
            "event_id": uuid.uuid4(),
            "event_name": "order_placed",
            "topic": "orders",
            "partition_key": "o-1",
            "payload": b'{"id": 1}',
            "content_encoding": None,
            "traceparent": None,
            "tracestate": None,
            "status": "pending",
            "attempts": 2,
            "last_error": "broker down",
            "created_at": NOW,
            "next_attempt_at": NOW,
            "published_at": None,
        },
        "inbox": {"consumer": "inventory", "message_id": uuid.uuid4(), "received_at": NOW},
        "saga": {
            "id": saga_id,
            "name": "order",
            "status": "running",
            "context": {"order": 1},
            "version": 3,
            "recovery_attempts": 0,
            "error": None,
            "waiting_step": "reserve",
            "waiting_action": "act",
            "waiting_deadline": NOW,
            "waiting_attempt": 1,
            "owner": None,
            "lease_until": None,
            "created_at": NOW,
            "updated_at": NOW,
        },
        "saga_log": {
            "id": 1,
            "saga_id": saga_id,
            "step_name": "reserve",
            "action": "act",
            "status": "started",
            "details": None,
            "created_at": NOW,
        },
    }
    for table, row in rows.items():
        await connection.execute(metadata.tables[table].insert().values(row))
    return rows


ENV_PY = """
from alembic import context
from cqrs_sqla.migrations import use_table_names
from cqrs_sqla.schema import TableNames

use_table_names(context.config, TableNames(outbox="app_outbox"))
context.configure(
    connection=context.config.attributes["connection"],
    render_as_batch=context.config.attributes["connection"].dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
"""

APP_REVISION = '''
"""The application's own table."""
import sqlalchemy as sa
from alembic import op

revision = "app_0001"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    op.create_table("app_order", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("app_order")
'''


async def test_an_application_environment_upgrades_its_revisions_and_the_librarys(
    empty_engine: AsyncEngine, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "env.py").write_text(ENV_PY)
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "app_0001.py").write_text(APP_REVISION)
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option("version_locations", f"{tmp_path / 'versions'} {VERSION_LOCATION}")
    config.set_main_option("path_separator", "space")

    def alembic_upgrade_heads(connection: sa.Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")

    async with empty_engine.begin() as connection:
        await connection.run_sync(alembic_upgrade_heads)

    app = sa.MetaData()
    sa.Table("app_order", app, sa.Column("id", sa.Integer(), primary_key=True))
    library = Schema(TableNames(outbox="app_outbox")).metadata
    assert await differences(empty_engine, [app, library], "alembic_version") == []


async def test_a_database_made_by_todays_create_all_is_adopted(empty_engine: AsyncEngine) -> None:
    schema = Schema()
    await create_all(empty_engine, schema)

    await upgrade(empty_engine)

    assert await differences(empty_engine, schema.metadata, VERSION_TABLE) == []
    async with empty_engine.connect() as connection:
        version = (await connection.execute(sa.text(f"SELECT * FROM {VERSION_TABLE}"))).scalar()
    assert version == "cqrs_sqla_0004"


async def test_services_starting_together_upgrade_once(empty_engine: AsyncEngine) -> None:
    await asyncio.gather(*(upgrade(empty_engine) for _ in range(3)))

    assert await differences(empty_engine, Schema().metadata, VERSION_TABLE) == []
    async with empty_engine.connect() as connection:
        versions = (await connection.execute(sa.text(f"SELECT * FROM {VERSION_TABLE}"))).all()
    assert len(versions) == 1


async def test_upgrade_runs_locations_of_the_applications_beside_the_librarys(
    empty_engine: AsyncEngine, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "app_0001.py").write_text(APP_REVISION)
    mine = [str(tmp_path)]
    everything = [
        "app_0001",
        "cqrs_sqla_0001",
        "cqrs_sqla_0002",
        "cqrs_sqla_0003",
        "cqrs_sqla_0004",
    ]
    assert heads(mine) == ("app_0001", "cqrs_sqla_0004")
    assert sorted(await pending(empty_engine, "heads", locations=mine)) == everything

    applied = await upgrade(empty_engine, None, "heads", locations=mine)

    assert sorted(applied) == everything
    assert await pending(empty_engine, "heads", locations=mine) == ()
    assert await upgrade(empty_engine, None, "heads", locations=mine) == ()
    app = sa.MetaData()
    sa.Table("app_order", app, sa.Column("id", sa.Integer(), primary_key=True))
    assert await differences(empty_engine, [app, Schema().metadata], VERSION_TABLE) == []


async def test_a_database_at_a_revision_nobody_has_is_an_error(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    async with empty_engine.begin() as connection:
        await connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = 'future'"))

    with pytest.raises(CommandError, match="future"):
        await pending(empty_engine)
    with pytest.raises(CommandError, match="future"):
        await upgrade(empty_engine)
