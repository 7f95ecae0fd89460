"""`cqrs_sqla.sqlite_driver`: a statement takes one trip to aiosqlite's thread, and
results, counts and errors come back as SQLAlchemy's dialect expects."""

from __future__ import annotations

import collections.abc
import pathlib
import typing

import aiosqlite
import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla import create_engine
from cqrs_sqla.sqlite_driver import PREFETCH

ROWS = PREFETCH * 3 + 5  # more than one batch, and not a whole number of them


@pytest.fixture
async def engine(tmp_path: pathlib.Path) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    async with engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, x UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call aiosqlite hands to a connection's thread, as it is made."""
    made: list[object] = []
    queue = aiosqlite.Connection._execute  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType, reportUnknownVariableType]

    async def counted(self: aiosqlite.Connection, fn: typing.Any, *args: typing.Any) -> typing.Any:
        made.append(fn)
        return await queue(self, fn, *args)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def transaction_trips(engine: AsyncEngine, trips: list[object], statements: int) -> int:
    before = len(trips)
    async with engine.begin() as connection:
        for n in range(statements):
            await connection.execute(sa.text("INSERT INTO t (x) VALUES (:x)"), {"x": n})
            await connection.execute(sa.text("DELETE FROM t"))
    return len(trips) - before


async def test_each_statement_takes_one_trip_to_the_thread(
    engine: AsyncEngine, trips: list[object]
) -> None:
    async with engine.connect():  # the pool's connection opened first
        pass

    two, four = await transaction_trips(engine, trips, 1), await transaction_trips(engine, trips, 2)

    assert four - two == 2  # two statements more: two trips (SQLAlchemy's dialect: six)


async def test_a_connection_handed_back_after_its_commit_takes_no_trip_to_roll_back(
    engine: AsyncEngine, trips: list[object]
) -> None:
    async with engine.connect():  # the pool's connection opened first
        pass

    # BEGIN IMMEDIATE, the two statements, COMMIT; the pool's reset used to be a fifth.
    assert await transaction_trips(engine, trips, 1) == 4


async def test_a_transaction_open_when_the_connection_is_handed_back_is_rolled_back(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("INSERT INTO t (x) VALUES (1)"))
        # No commit: the pool rolls it back.
    async with engine.connect() as connection:
        await connection.begin()
        await connection.execute(sa.text("INSERT INTO t (x) VALUES (2)"))
        await connection.rollback()

    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_a_result_of_several_batches_comes_back_whole_streamed_or_not(
    engine: AsyncEngine,
) -> None:
    series = sa.text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) "
        "SELECT i FROM n"
    )
    async with engine.connect() as connection:
        fetched = list((await connection.execute(series, {"rows": ROWS})).scalars())
        streamed = [i async for i in (await connection.stream_scalars(series, {"rows": ROWS}))]
        one = (await connection.execute(series, {"rows": ROWS})).first()

    assert fetched == streamed == list(range(1, ROWS + 1))
    assert one == (1,)


async def test_counts_and_errors_come_back_as_the_dialect_expects(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(sa.text("INSERT INTO t (x) VALUES ('a'), ('b')"))
        updated = await connection.execute(sa.text("UPDATE t SET x = x || '!'"))
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            await connection.execute(sa.text("INSERT INTO t (x) VALUES ('a!')"))
        rows = (await connection.execute(sa.text("SELECT x FROM t ORDER BY id"))).all()

    assert (inserted.rowcount, inserted.lastrowid, updated.rowcount) == (2, 2, 2)
    assert rows == [("a!",), ("b!",)]  # the connection works on after the error
