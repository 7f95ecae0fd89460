"""The databases the adapters work with: SQLite, and PostgreSQL through asyncpg.

The relay and the outbox's writes talk to asyncpg directly, and other drivers
do not report whether `INSERT ... ON CONFLICT DO NOTHING` wrote a row (psycopg
answers -1), which the inbox and the saga storage rely on. Each adapter checks
its database when it is built, or at its first statement when it only gets
sessions, so a wrong URL fails with a message that says what to use.

>>> from sqlalchemy.dialects import mysql
>>> require_supported(mysql.dialect(), "MyRelay")
Traceback (most recent call last):
  ...
cqrs_sqla.errors.UnsupportedDatabaseError: MyRelay supports PostgreSQL and SQLite, not 'mysql'.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from cqrs_sqla.errors import UnsupportedDatabaseError

__all__ = ("bound_dialect", "require_supported")


def require_supported(dialect: sa.Dialect | type[sa.Dialect], user: str) -> None:
    """Raise `UnsupportedDatabaseError` (naming `user`) unless the database is SQLite,
    or PostgreSQL through asyncpg. `dialect` may be a class, as a URL's `get_dialect()`
    gives before any driver is imported."""
    if dialect.name not in ("postgresql", "sqlite"):
        raise UnsupportedDatabaseError(
            f"{user} supports PostgreSQL and SQLite, not {dialect.name!r}."
        )
    if dialect.name == "postgresql" and dialect.driver != "asyncpg":
        raise UnsupportedDatabaseError(
            f"{user} needs the asyncpg driver on PostgreSQL, not {dialect.driver}: use a "
            f"postgresql+asyncpg:// URL (pip install 'cqrs-sqla[postgresql]')."
        )


def bound_dialect(session_factory: async_sessionmaker[AsyncSession]) -> sa.Dialect | None:
    """The dialect of the engine or connection the factory's sessions are bound to, if
    one is (a factory may also bind per table, or leave binding to each session)."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, (AsyncEngine, AsyncConnection)):
        return bind.dialect
    return None
