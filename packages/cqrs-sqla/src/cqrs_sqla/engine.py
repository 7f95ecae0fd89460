"""`create_engine`: the async engine for the database cqrs-sqla's components share.

It is SQLAlchemy's `create_async_engine(url, **kwargs)`, checked and set up
for them: a database they cannot use (not PostgreSQL through asyncpg, nor
SQLite) is refused at once with `UnsupportedDatabaseError` (see
`cqrs_sqla.databases`), and a SQLite engine gets `configure_sqlite`'s
`BEGIN IMMEDIATE` transactions and busy timeout, which concurrent writers
need. Its pool hands out the connection used last (`pool_use_lifo=True`, unless
given): a quiet service then keeps using one warm connection (and its server
process) instead of going round the whole pool, which on PostgreSQL took a
statement from about 0.2 to 0.6 ms here, and the connections it stops
needing can time out. One call builds the engine of every deployment, from one URL setting:

>>> sqlite = create_engine("sqlite+aiosqlite:///app.db")
>>> postgresql = create_engine("postgresql+asyncpg://app@db.internal/app")
>>> sqlite.dialect.name, postgresql.dialect.driver
('sqlite', 'asyncpg')
"""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cqrs_sqla.databases import require_supported
from cqrs_sqla.sqlite import DEFAULT_BUSY_TIMEOUT, configure_sqlite

__all__ = ("create_engine",)


def create_engine(
    url: str | sa.URL,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    foreign_keys: bool = True,
    **kwargs: typing.Any,
) -> AsyncEngine:
    """`create_async_engine(url, **kwargs)` for a database the adapters work with.

    Raises `UnsupportedDatabaseError` for any other (MySQL, PostgreSQL through
    psycopg, ...). On SQLite, `busy_timeout` (seconds) and `foreign_keys` go
    to `configure_sqlite`; other databases ignore them.
    """
    # Checked before the engine is built, which imports the driver: a driver the
    # adapters cannot use is refused even when it is not installed.
    url = sa.make_url(url)
    require_supported(url.get_dialect(), "cqrs_sqla.create_engine")
    if _queue_pool(url, kwargs):
        kwargs.setdefault("pool_use_lifo", True)
    engine = create_async_engine(url, **kwargs)
    return configure_sqlite(engine, busy_timeout=busy_timeout, foreign_keys=foreign_keys)


def _queue_pool(url: sa.URL, kwargs: typing.Mapping[str, typing.Any]) -> bool:
    """Whether SQLAlchemy will give the engine a queue pool: not when the caller brings
    a pool, nor for an in-memory SQLite database (one connection, held)."""
    if "poolclass" in kwargs or "pool" in kwargs:
        return False
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")
