"""`servicekit.migrations` on a service of its own (one revision, branch `demo`) beside
cqrs-sqla's, on PostgreSQL and SQLite: processes at once, start-up, the report."""

from __future__ import annotations

import asyncio
import collections.abc
import logging
import pathlib

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.engine import create_engine
from cqrs_sqla.schema import Schema
from cqrs_sqla.testing import throwaway_postgres_database
from servicekit.migrations import Migrations, SchemaVersionError

REVISION = '''
"""The demo service's one table."""
import sqlalchemy as sa
from alembic import op

revision = "demo_0001"
down_revision = None
branch_labels = ("demo",)
depends_on = None


def upgrade():
    op.create_table("brews", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("brews")
'''


@pytest.fixture
def migrations(tmp_path: pathlib.Path) -> Migrations:
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "demo_0001.py").write_text(REVISION)
    return Migrations("demo", str(tmp_path / "versions"))


@pytest.fixture
def models() -> list[sa.MetaData]:
    demo = sa.MetaData()
    sa.Table("brews", demo, sa.Column("id", sa.Integer(), primary_key=True))
    return [demo, Schema().metadata]


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> collections.abc.Iterator[str]:
    """An empty database, one per test."""
    if request.param == "postgresql":
        with throwaway_postgres_database("servicekit_migrations") as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"


@pytest.fixture
async def engine(url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def test_migrate_says_what_it_applied_then_that_it_is_at_head(
    migrations: Migrations, engine: AsyncEngine, models: list[sa.MetaData]
) -> None:
    assert migrations.heads() == ("cqrs_sqla_0004", "demo_0001")

    first = await migrations.upgrade(engine)
    again = await migrations.upgrade(engine)

    applied = first.removeprefix("demo schema: applied ").split("; ")[0].split(", ")
    assert sorted(applied) == [*(f"cqrs_sqla_000{n}" for n in range(1, 5)), "demo_0001"]
    assert first.endswith("; now at head cqrs_sqla_0004, demo_0001")
    assert again == "demo schema: already at head cqrs_sqla_0004, demo_0001"
    assert await migrations.differences(engine, models) == []


async def test_processes_migrating_at_once_upgrade_once(
    migrations: Migrations, url: str, models: list[sa.MetaData]
) -> None:
    # An engine each, as separate processes have: they take turns on the schema lock.
    engines = [create_engine(url) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(migrations.upgrade(each) for each in engines))
        assert await migrations.differences(engines[0], models) == []
    finally:
        for each in engines:
            await each.dispose()

    outcomes = sorted(report.split(": ")[1].split()[0] for report in reports)
    assert outcomes == ["already", "already", "applied"]


async def test_a_service_told_not_to_migrate_refuses_a_database_behind(
    migrations: Migrations, engine: AsyncEngine
) -> None:
    with pytest.raises(SchemaVersionError) as refused:
        await migrations.at_start(engine, upgrade=False)

    assert str(refused.value).startswith("the demo database is behind this release (5 revision")
    assert str(refused.value).endswith("run `demo migrate`, or set DEMO_MIGRATE_ON_START=true")
    async with engine.connect() as connection:  # it looked, and changed nothing
        assert await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()) == []


async def test_a_service_that_may_migrate_upgrades_at_start_and_says_so(
    migrations: Migrations, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="servicekit.migrations"):
        await migrations.at_start(engine, upgrade=True)

    await migrations.at_start(engine, upgrade=False)  # at head now: nothing to refuse
    (said,) = (record.getMessage() for record in caplog.records)
    assert said.startswith("demo schema: applied ")
