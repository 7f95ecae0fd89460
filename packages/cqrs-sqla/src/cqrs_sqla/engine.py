"""`create_engine`: the async engine for the database cqrs-sqla's components share.

It is SQLAlchemy's `create_async_engine(url, **kwargs)`, checked and set up
for them: a database they cannot use (not PostgreSQL through asyncpg, nor
SQLite) is refused at once with `UnsupportedDatabaseError` (see
`cqrs_sqla.databases`), and a SQLite engine gets `configure_sqlite`'s `BEGIN
IMMEDIATE` transactions and busy timeout, which concurrent writers need, and
WAL mode. Its pool hands out the connection used last (`pool_use_lifo=True`,
unless given): a quiet service then keeps using one warm connection (and its
server process) instead of going round the whole pool, which on PostgreSQL
took a statement from about 0.2 to 0.6 ms here, and the connections it stops
needing can time out.

On PostgreSQL the pool also looks at each connection it lends, at no round
trip: one whose server ended it while it sat in the pool (a restart, an
idle timeout, `pg_terminate_backend`) is already closed on the asyncpg side,
and the pool replaces it instead of lending it. That is what a service
needs `pool_pre_ping=True` for, which instead costs a transaction (three
round trips) per checkout. A connection dropped while in use fails that
use once; SQLAlchemy then discards it and the pool's other connections of
that age, so the next use connects afresh.

One call builds the engine of every deployment, from one URL setting:

>>> sqlite = create_engine("sqlite+aiosqlite:///app.db")
>>> postgresql = create_engine("postgresql+asyncpg://app@db.internal/app")
>>> sqlite.dialect.name, postgresql.dialect.driver
('sqlite', 'asyncpg')
"""

from __future__ import annotations

import typing

import sqlalchemy as sa
import sqlalchemy.event
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cqrs_sqla.databases import require_supported
from cqrs_sqla.sqlite import DEFAULT_BUSY_TIMEOUT, Synchronous, configure_sqlite

__all__ = ("create_engine",)


def create_engine(
    url: str | sa.URL,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    foreign_keys: bool = True,
    wal: bool = True,
    synchronous: Synchronous = "FULL",
    pool_size: int | None = None,
    max_overflow: int | None = None,
    **kwargs: typing.Any,
) -> AsyncEngine:
    """`create_async_engine(url, **kwargs)` for a database the adapters work with.

    Raises `UnsupportedDatabaseError` for any other (MySQL, PostgreSQL through
    psycopg, ...). On SQLite, `busy_timeout` (seconds), `foreign_keys`, `wal` and
    `synchronous` go to `configure_sqlite`; other databases ignore them. `pool_size` and
    `max_overflow`, when given, size the queue pool; an engine without one (an
    in-memory SQLite database, or a `poolclass` of the caller's) ignores them,
    so one setting can size the pool of every deployment.
    """
    # Checked before the engine is built, which imports the driver: a driver the
    # adapters cannot use is refused even when it is not installed.
    url = sa.make_url(url)
    require_supported(url.get_dialect(), "cqrs_sqla.create_engine")
    if _queue_pool(url, kwargs):
        kwargs.setdefault("pool_use_lifo", True)
        if pool_size is not None:
            kwargs["pool_size"] = pool_size
        if max_overflow is not None:
            kwargs["max_overflow"] = max_overflow
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.driver == "asyncpg":
        sqlalchemy.event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return configure_sqlite(
        engine,
        busy_timeout=busy_timeout,
        foreign_keys=foreign_keys,
        wal=wal,
        synchronous=synchronous,
    )


def _refuse_closed(dbapi_connection: typing.Any, _record: typing.Any, _proxy: typing.Any) -> None:
    """Pool checkout: refuse a connection the server closed while it was pooled (the
    pool then lends another). Looks at the driver's state only, no round trip."""
    if dbapi_connection.driver_connection.is_closed():
        raise sqlalchemy.exc.DisconnectionError("the server closed this pooled connection")


def _queue_pool(url: sa.URL, kwargs: typing.Mapping[str, typing.Any]) -> bool:
    """Whether SQLAlchemy will give the engine a queue pool: not when the caller brings
    a pool, nor for an in-memory SQLite database (one connection, held)."""
    if "poolclass" in kwargs or "pool" in kwargs:
        return False
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")
