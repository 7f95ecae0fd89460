"""SQLite engines fit for concurrent writers: `BEGIN IMMEDIATE` and a busy timeout.

Python's sqlite3 driver (and aiosqlite on top of it) starts transactions
lazily, at the first INSERT/UPDATE/DELETE, and never for a SELECT: the reads
a transaction makes before its first write run outside it, unisolated, so
two read-then-write transactions can both act on what they read and one
update is lost. `configure_sqlite` applies the recipe of the SQLAlchemy SQLite
documentation ("Enabling Non-Legacy SQLite Transactional Modes"): the driver
stops issuing `BEGIN` itself and SQLAlchemy issues `BEGIN IMMEDIATE` at the
start of every transaction. Each transaction then takes the write lock
first, waits for it up to the busy timeout, and runs serialised with the
others: real SERIALIZABLE isolation, and no lock upgrade to fail on.
A transaction that only reads can begin with `begin_read` instead: a plain
`BEGIN`, which takes no write lock (in WAL mode it reads a snapshot while a
writer works), so it neither waits for writers nor makes them wait.

Its connections run a statement in one trip to aiosqlite's thread instead of
four (`cqrs_sqla.sqlite_driver`). It also turns foreign keys on, so the
schema's `ON DELETE CASCADE` holds, and puts a database file in WAL mode
(`wal=True`, the default) with `synchronous = FULL`, SQLite's default: every
commit is still on disk when it returns, but it appends to and syncs one
file (`<db>-wal`) where the default rollback journal creates, syncs and
deletes a journal and syncs the database too. On this project's 2-core
machine a commit took 2.6 ms instead of 9.4, and a quarter of the CPU
(bench/README.md, "SQLite: WAL mode and one driver trip per statement").
WAL's index lives in shared memory (`<db>-shm`): every process opening the
file must run on the same host, which rules out a network filesystem;
`wal=False` leaves the journal mode as the file has it. The mode is stored
in the file, so it outlasts the engine. Committed pages wait in `<db>-wal`
until a checkpoint copies them into `<db>` (SQLite's automatic one, after
about 1000 pages, or when the last connection closes): the database is the
three files together, so copy a live one with SQLite's backup API
(`sqlite3.Connection.backup`, `VACUUM INTO`), and delete or move `<db>`
only with its `-wal` and `-shm`. A process killed mid-commit leaves
`<db>-wal` behind; the next connection recovers from it.

`synchronous="NORMAL"` (WAL only) trades durability on power loss for the
sync at every commit: a commit returns once it is in `<db>-wal` in the
operating system's cache, and the file is synced only at checkpoints. A
process killed at any point (kill -9) loses nothing committed, since the
cache survives it, and the database stays consistent whatever happens; but
a power cut or a kernel crash can undo the last commits. Those are commits
whose effects already left the process: an order a client was told was
accepted, a Kafka offset committed after the inbox row that settled its
record, an outbox row already published. So the components' exactly-once
and at-least-once guarantees hold across process crashes only, not across
a host's; `FULL`, the default, keeps them across both.

Every cqrs-sqla component writing to one SQLite file (saga storage, outbox,
inbox, relays) expects its engine configured this way; `cqrs_sqla.create_engine`
does it.

>>> from sqlalchemy.ext.asyncio import create_async_engine
>>> engine = configure_sqlite(create_async_engine("sqlite+aiosqlite:///app.db"))
>>> configure_sqlite(engine)
Traceback (most recent call last):
  ...
ValueError: engine sqlite+aiosqlite:///app.db is configured for SQLite already
"""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from typing_extensions import deprecated

from cqrs_sqla.sqlite_driver import OneHopConnection

__all__ = (
    "begin_read",
    "configure_sqlite",
    "create_sqlite_engine",
    "DEFAULT_BUSY_TIMEOUT",
    "Synchronous",
)

Synchronous = typing.Literal["FULL", "NORMAL"]
"""When a WAL commit reaches the disk: at every commit (`FULL`) or at checkpoints (`NORMAL`)."""

DEFAULT_BUSY_TIMEOUT: typing.Final = 30.0
"""Seconds a transaction waits for another one's write lock before failing."""

_READ_ONLY: typing.Final = "cqrs_sqlite_read_only"
"""The execution option `begin_read` sets for the `BEGIN` it issues."""


class _SQLiteConnection(typing.Protocol):
    """The part of a sqlite3 / aiosqlite connection the recipe sets."""

    isolation_level: str | None


@deprecated(
    "create_sqlite_engine builds engines for every database: use cqrs_sqla.create_engine, "
    "which also refuses a database the adapters cannot use"
)
def create_sqlite_engine(
    url: str | sa.URL,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    foreign_keys: bool = True,
    wal: bool = True,
    **kwargs: typing.Any,
) -> AsyncEngine:
    """Deprecated: `cqrs_sqla.create_engine` (this name says SQLite, but any other
    database's URL gives its engine too, unchecked).

    `create_async_engine(url, **kwargs)`, then `configure_sqlite` on it.
    """
    return configure_sqlite(
        create_async_engine(url, **kwargs),
        busy_timeout=busy_timeout,
        foreign_keys=foreign_keys,
        wal=wal,
    )


def configure_sqlite(
    engine: AsyncEngine,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    foreign_keys: bool = True,
    wal: bool = True,
    synchronous: Synchronous = "FULL",
) -> AsyncEngine:
    """Make every transaction of a SQLite `engine` begin with `BEGIN IMMEDIATE`; return it.

    Call it before the engine's first connection (it configures connections
    as they are opened). `busy_timeout` is in seconds. `wal` puts the file in
    WAL mode with `synchronous = FULL` (see the module; an in-memory database
    keeps its own mode). An engine of another
    database is returned untouched. Configuring an engine twice raises
    `ValueError`, as does `synchronous="NORMAL"` without `wal` (in the rollback
    journal it can corrupt the file on power loss). `synchronous` is the WAL
    file's sync level: `FULL` (the default) or `NORMAL`, which keeps every
    guarantee across a process crash but not across a power cut (see the
    module). Not compatible with the `AUTOCOMMIT` isolation level.
    """
    if engine.dialect.name != "sqlite":
        return engine
    if synchronous not in typing.get_args(Synchronous):
        raise ValueError(
            f"synchronous must be one of {typing.get_args(Synchronous)}, not {synchronous!r}"
        )
    if synchronous != "FULL" and not wal:
        raise ValueError(
            "synchronous = NORMAL is only safe in WAL mode: leave it FULL or set wal=True"
        )
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "begin", _begin_immediate):
        raise ValueError(f"engine {engine.url} is configured for SQLite already")
    pragmas = [f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}"]
    pragmas.append(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    if wal:
        # After the busy timeout: switching a file to WAL waits for other connections'
        # locks. FULL is SQLite's default, named because builds may default lower in WAL.
        pragmas += ["PRAGMA journal_mode = WAL", f"PRAGMA synchronous = {synchronous}"]

    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # The driver must not issue BEGIN itself; `_begin_immediate` does.
        typing.cast(_SQLiteConnection, dbapi_connection).isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    if engine.dialect.driver == "aiosqlite":
        event.listen(sync_engine, "do_connect", _one_hop_connections)
    event.listen(sync_engine, "connect", on_connect)
    event.listen(sync_engine, "begin", _begin_immediate)
    return engine


def _one_hop_connections(
    _dialect: typing.Any, _record: typing.Any, _args: typing.Any, params: dict[str, typing.Any]
) -> None:
    """Pool connect: the dialect opens a `OneHopConnection` (its `async_creator_fn`
    argument takes the place of `aiosqlite.connect`, with the same arguments)."""
    params["async_creator_fn"] = OneHopConnection.open


async def begin_read(connection: AsyncConnection) -> None:
    """Begin a transaction that will only read, without taking SQLite's write lock.

    On an engine `configure_sqlite` set up, the transaction begins with a plain
    `BEGIN`: it does not wait for a writer's lock. In WAL mode (the default)
    its reads see one snapshot and nobody waits for it; in a rollback-journal
    file (`wal=False`) they hold a shared lock that a writer's commit waits
    for. A write in it would have to upgrade the lock and can fail with
    `database is locked` at once: commit it and begin a new transaction to
    write. On any other engine it is `connection.begin()`.
    """
    await connection.execution_options(**{_READ_ONLY: True})
    try:
        # SQLAlchemy issues the BEGIN (the `begin` event) inside begin(), so the
        # option can go again at once and the connection's next transactions write.
        await connection.begin()
    finally:
        await connection.execution_options(**{_READ_ONLY: False})


def _begin_immediate(connection: sa.Connection) -> None:
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
