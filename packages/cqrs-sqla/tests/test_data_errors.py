"""`is_data_error` on the errors PostgreSQL (asyncpg) and SQLite (aiosqlite) really raise."""

from __future__ import annotations

import collections.abc

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.data_errors import is_data_error
from cqrs_sqla.engine import create_engine
from cqrs_sqla.errors import InvalidDataError


@pytest.fixture
async def table(engine: AsyncEngine) -> collections.abc.AsyncIterator[sa.Table]:
    table = sa.Table(
        f"data_errors_{id(engine)}",
        sa.MetaData(),
        sa.Column("text", sa.String(4)),
        sa.Column("number", sa.Integer()),
        sa.Column("key", sa.Integer(), unique=True),
    )
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
    yield table
    async with engine.begin() as connection:
        await connection.run_sync(table.drop)


async def raised_by(engine: AsyncEngine, statement: sa.Executable) -> BaseException:
    # What the drivers raise: wrapped by SQLAlchemy, or SQLite's own binding errors.
    with pytest.raises((sa_exc.DBAPIError, ValueError, OverflowError)) as raised:
        async with engine.begin() as connection:
            await connection.execute(statement)
    return raised.value


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"text": "\ud800"}, id="lone surrogate"),
        pytest.param({"number": 2**70}, id="number out of range"),
    ],
)
async def test_values_no_database_stores_are_data_errors(
    engine: AsyncEngine, table: sa.Table, values: dict[str, object]
) -> None:
    assert is_data_error(await raised_by(engine, table.insert().values(**values)))


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"text": "a\x00b"}, id="NUL"),
        pytest.param({"text": "too long"}, id="longer than the column"),
        pytest.param({"number": 2**31}, id="above the 32-bit column"),
    ],
)
async def test_values_postgresql_refuses_are_data_errors(
    postgres_url: str, values: dict[str, object]
) -> None:
    engine = create_engine(postgres_url)
    metadata = sa.MetaData()
    table = sa.Table(
        "data_errors_postgresql",
        metadata,
        sa.Column("text", sa.String(4)),
        sa.Column("number", sa.Integer()),
    )
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        assert is_data_error(await raised_by(engine, table.insert().values(**values)))
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await engine.dispose()


async def test_a_broken_statement_or_a_conflict_is_not_a_data_error(
    engine: AsyncEngine, table: sa.Table
) -> None:
    async with engine.begin() as connection:
        await connection.execute(table.insert().values(key=1))

    assert not is_data_error(await raised_by(engine, table.insert().values(key=1)))
    assert not is_data_error(await raised_by(engine, sa.text("SELECT * FROM nowhere")))


def test_the_adapters_own_data_error_is_one() -> None:
    assert is_data_error(InvalidDataError("SqlAlchemyInbox.record: the database refused a value"))
