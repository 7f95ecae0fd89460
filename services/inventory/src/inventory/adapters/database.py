"""The inventory's database: its engine, its tables, and whether it answers.

`INVENTORY_DATABASE_URL` is an SQLAlchemy async URL: SQLite (`sqlite+aiosqlite`,
the default) or PostgreSQL (`postgresql+asyncpg`).

```
engine = create_engine("sqlite+aiosqlite:///./inventory.db")
schema = Schema()                      # cqrs_sqla: outbox, inbox (and saga) tables
await create_schema(engine, schema)    # plus stock and reservations, by Alembic
assert await database_answers(engine)
```
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import cqrs_sqla.engine
from cqrs_sqla.schema import Schema
from inventory.adapters.migrations import MIGRATIONS
from inventory.adapters.unit_of_work import storage_errors

__all__ = ("create_engine", "create_schema", "database_answers", "prepare_schema")

logger = logging.getLogger("inventory.database")


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; a SQLite one lets one writer in at a time (`BEGIN IMMEDIATE`).

    The pool tests no connection with a query before lending it (no
    `pool_pre_ping`, which cost a transaction per checkout): `create_engine`
    replaces one the server closed while it was pooled (a restart, an idle
    timeout) without a round trip, and one that drops while in use fails that
    use once (a request answers 503, a consumed command is tried again).

    >>> create_engine("sqlite+aiosqlite:///inventory.db").dialect.name
    'sqlite'
    """
    return cqrs_sqla.engine.create_engine(url)


async def create_schema(engine: AsyncEngine, schema: Schema) -> str:
    """Upgrade `schema`'s tables and the inventory's own to the newest revisions
    (`inventory.adapters.migrations`), creating them in an empty database; one line
    saying what was applied.

    Raises `StorageUnavailableError` when the database does not answer.
    """
    with storage_errors():
        return await MIGRATIONS.upgrade(engine, schema.names)


async def prepare_schema(engine: AsyncEngine, schema: Schema, *, upgrade: bool) -> None:
    """At start-up: `create_schema` when `upgrade`, else raise `SchemaVersionError` if
    the database is behind this release."""
    with storage_errors():
        await MIGRATIONS.at_start(engine, schema.names, upgrade=upgrade)


async def database_answers(engine: AsyncEngine, timeout: float = 5.0) -> bool:
    """Whether the database runs a `SELECT 1` within `timeout` seconds."""
    try:
        await asyncio.wait_for(_select_one(engine), timeout)
    except Exception as exc:
        logger.warning("the database did not answer: %s: %s", type(exc).__name__, exc)
        return False
    return True


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))
