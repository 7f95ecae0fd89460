"""Databases for the tests: a throwaway PostgreSQL database per run, SQLite files per test.

PostgreSQL is the machine's server (127.0.0.1:5432, user postgres, trust auth)
unless `CQRS_TEST_POSTGRES_URL` names another server (an SQLAlchemy URL with
the asyncpg driver; its database is only used to create and drop the
throwaway one). Tests never skip for a missing server: they fail, loudly.
"""

from __future__ import annotations

import collections.abc
import itertools
import os
import pathlib

import pytest
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from cqrs.testing.clock import FakeClock
from cqrs_sqla.engine import create_engine
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, TableNames, create_all
from cqrs_sqla.testing import throwaway_postgres_database

_tables = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> collections.abc.Iterator[str]:
    """A database created for this test run, dropped after it."""
    with throwaway_postgres_database() as url:
        yield url


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """Each test that asks for a database runs once per database."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def engine(database_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def schema(engine: AsyncEngine) -> collections.abc.AsyncIterator[Schema]:
    """Fresh tables for each test: unique names, created now, dropped after."""
    prefix = f"t{os.getpid()}_{next(_tables)}_"
    schema = Schema(TableNames.prefixed(prefix))
    await create_all(engine, schema)
    yield schema
    async with engine.begin() as connection:
        await connection.run_sync(schema.metadata.drop_all)


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves (files with a clock of their own override it)."""
    return FakeClock()


@pytest.fixture
async def store(
    engine: AsyncEngine, schema: Schema, clock: FakeClock
) -> collections.abc.AsyncIterator[SqlAlchemyOutboxStore]:
    """The relay side of the test's outbox table, on `clock`; closed after the test."""
    store = SqlAlchemyOutboxStore(engine, schema, clock=clock)
    yield store
    await store.close()
