"""`cqrs_sqla.create_engine`: SQLite set up for concurrent writers, PostgreSQL through
asyncpg, anything else refused; `create_sqlite_engine`, its deprecated former name."""

from __future__ import annotations

import pathlib
import typing

import pytest
import sqlalchemy as sa

from cqrs_sqla import UnsupportedDatabaseError, create_engine, sqlite
from cqrs_sqla.sqlite import DEFAULT_BUSY_TIMEOUT
from cqrs_sqla.testing import drop_pooled_connection


async def pragmas(url: str, *names: str, **kwargs: typing.Any) -> tuple[object, ...]:
    """The values of the PRAGMAs `names` on a connection of `create_engine(url, **kwargs)`."""
    engine = create_engine(url, **kwargs)
    try:
        async with engine.connect() as connection:
            return tuple(
                [
                    (await connection.execute(sa.text(f"PRAGMA {name}"))).scalar_one()
                    for name in names
                ]
            )
    finally:
        await engine.dispose()


async def test_a_sqlite_engine_waits_for_the_write_lock_and_checks_foreign_keys(
    tmp_path: pathlib.Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"

    checked = ("busy_timeout", "foreign_keys")
    assert await pragmas(url, *checked) == (DEFAULT_BUSY_TIMEOUT * 1000, 1)
    assert await pragmas(url, *checked, busy_timeout=2.5, foreign_keys=False) == (2500, 0)


async def test_a_sqlite_file_is_put_in_wal_mode_and_every_commit_still_syncs(
    tmp_path: pathlib.Path,
) -> None:
    full = 2

    checked = ("journal_mode", "synchronous")
    assert await pragmas(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", *checked) == ("wal", full)
    # Left as the file has it: SQLite's rollback journal for a new one.
    other = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    assert await pragmas(other, *checked, wal=False) == ("delete", full)


async def test_a_wal_file_can_sync_at_checkpoints_only_and_a_journal_file_cannot(
    tmp_path: pathlib.Path,
) -> None:
    normal = 1

    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    assert await pragmas(url, "journal_mode", "synchronous", synchronous="NORMAL") == (
        "wal",
        normal,
    )
    with pytest.raises(ValueError, match="only safe in WAL mode"):
        create_engine(url, wal=False, synchronous="NORMAL")
    with pytest.raises(ValueError, match="synchronous must be one of"):
        create_engine(url, synchronous=typing.cast(typing.Any, "OFF"))


async def test_a_postgresql_engine_through_asyncpg_is_a_plain_engine(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(sa.text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()

    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "asyncpg")


def test_a_postgresql_driver_the_adapters_cannot_use_is_refused() -> None:
    with pytest.raises(
        UnsupportedDatabaseError, match=r"cqrs_sqla\.create_engine needs the asyncpg driver"
    ):
        create_engine("postgresql+psycopg://app@db.internal/app")


def test_another_database_is_refused_before_its_driver_is_imported() -> None:
    # aiomysql is not installed: the answer is still which databases work, not an ImportError.
    with pytest.raises(
        UnsupportedDatabaseError, match="supports PostgreSQL and SQLite, not 'mysql'"
    ):
        create_engine("mysql+aiomysql://app@db.internal/app")


async def test_the_former_name_still_works_and_says_it_is_deprecated(
    tmp_path: pathlib.Path,
) -> None:
    with pytest.deprecated_call(match="cqrs_sqla.create_engine"):
        engine = sqlite.create_sqlite_engine(  # pyright: ignore[reportDeprecated]
            f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        )
    try:
        async with engine.connect() as connection:
            busy = (await connection.execute(sa.text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await engine.dispose()

    assert busy == DEFAULT_BUSY_TIMEOUT * 1000


async def test_the_pool_hands_out_the_connection_used_last(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=3)
    pid = sa.text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as first, engine.connect() as second:
            first_pid = (await first.execute(pid)).scalar_one()
            second_pid = (await second.execute(pid)).scalar_one()
        # `first` went back to the pool last (the blocks close inner first): a FIFO
        # pool would hand out `second`, which waited longer.
        async with engine.connect() as again:
            assert (await again.execute(pid)).scalar_one() == first_pid != second_pid
    finally:
        await engine.dispose()


async def test_a_connection_the_server_ended_in_the_pool_is_replaced_without_a_ping(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)  # no pool_pre_ping
    try:
        # Until asyncpg has read the end of the socket, nothing tells the connection is
        # gone without a round trip (a use then fails once: test_errors.py).
        victim = await drop_pooled_connection(engine)

        # The first use after the drop succeeds, on a new connection.
        async with engine.connect() as connection:
            pid = sa.text("SELECT pg_backend_pid()")
            assert (await connection.execute(pid)).scalar_one() != victim
    finally:
        await engine.dispose()


def test_the_pool_size_sizes_a_queue_pool_and_is_ignored_without_one() -> None:
    sized = create_engine("postgresql+asyncpg://app@db.internal/app", pool_size=7, max_overflow=2)
    memory = create_engine("sqlite+aiosqlite://", pool_size=7, max_overflow=2)
    assert isinstance(sized.pool, sa.QueuePool)
    assert sized.pool.size() == 7
    assert type(memory.pool).__name__ == "StaticPool"


def test_a_pool_the_caller_chooses_or_an_in_memory_sqlite_is_built_as_asked() -> None:
    # Pools without an order refuse pool_use_lifo: create_engine must not pass it to them.
    static = create_engine("sqlite+aiosqlite://")
    null = create_engine("postgresql+asyncpg://app@db.internal/app", poolclass=sa.NullPool)
    assert (type(static.pool).__name__, type(null.pool).__name__) == ("StaticPool", "NullPool")
