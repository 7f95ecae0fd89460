"""Fixtures for the orders tests: the wire messages registered, and databases.

Storage-backed tests run on SQLite (a file per test) and on PostgreSQL: the
machine's server (127.0.0.1:5432, user postgres, trust auth) unless
`CQRS_TEST_POSTGRES_URL` names another (an asyncpg URL whose database is
only used to create and drop a throwaway one for the run). A missing server
fails the tests; it does not skip them.
"""

from __future__ import annotations

import collections.abc
import pathlib
import typing

import pytest
import sqlalchemy as sa

from cqrs.testing import registered_outbox_events
from cqrs_sqla.testing import throwaway_postgres_database
from orders.adapters import tables
from orders.adapters.database import Database
from orders.adapters.messages import MESSAGES
from orders.application.saga import PAYMENT_BREAKER
from orders.main import Orders, Overrides, build
from orders.settings import Settings
from servicekit.migrations import VERSION_TABLE


@pytest.fixture(autouse=True)
def orders_messages() -> collections.abc.Iterator[None]:
    """The orders messages registered for the test only (inventory registers its own copies)."""
    with registered_outbox_events(MESSAGES):
        yield


@pytest.fixture
def closed_breaker() -> collections.abc.Iterator[None]:
    """The payment breaker is one per process: a test that opens it closes it after."""
    yield
    PAYMENT_BREAKER._breakers.clear()  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(scope="session")
def orders_postgres_url() -> collections.abc.Iterator[str]:
    """A PostgreSQL database created for this run, dropped after it."""
    with throwaway_postgres_database("orders_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """Each test that asks for a database runs once per database."""
    if request.param == "postgresql":
        return request.getfixturevalue("orders_postgres_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture
async def database(database_url: str) -> collections.abc.AsyncIterator[Database]:
    """The service's database with its tables, emptied after the test."""
    database = Database.connect(database_url)
    await database.create_schema()
    yield database
    async with database.engine.begin() as connection:
        await connection.run_sync(tables.metadata.drop_all)
        await connection.run_sync(database.schema.metadata.drop_all)
        # The schema is Alembic's: the next test upgrades an empty database again.
        await connection.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
    await database.close()


RowCounts = typing.Callable[[], typing.Awaitable[dict[str, int]]]


@pytest.fixture
def stored_rows(database: Database) -> RowCounts:
    """Counts the rows of the orders and saga tables."""

    async def count() -> dict[str, int]:
        counts: dict[str, int] = {}
        async with database.engine.connect() as connection:
            for name, table in (("orders", tables.orders), ("sagas", database.schema.saga)):
                query = sa.select(sa.func.count()).select_from(table)
                counts[name] = (await connection.execute(query)).scalar_one()
        return counts

    return count


@pytest.fixture
def orders(database: Database) -> Orders:
    """The service wired on the test database; Kafka is never started."""
    return build(
        Settings(signing="off", database_url=str(database.engine.url)),
        overrides=Overrides(database=database),
    )
