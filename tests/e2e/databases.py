"""Throwaway databases for the end-to-end tests: PostgreSQL databases or SQLite files.

PostgreSQL is the machine's server (127.0.0.1:5432, user postgres, trust auth)
unless `CQRS_TEST_POSTGRES_URL` names another (an SQLAlchemy asyncpg URL whose
database is only used to create and drop the throwaway ones), as in the
packages' tests. A missing server fails the tests; they never skip.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import os
import pathlib
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

ADMIN_URL = os.environ.get(
    "CQRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SERVICES = ("orders", "inventory")


@contextlib.contextmanager
def service_databases(kind: str, folder: pathlib.Path) -> collections.abc.Iterator[dict[str, str]]:
    """A fresh database URL per service (`{"orders": url, "inventory": url}`).

    `kind` is "sqlite" (files in `folder`) or "postgresql" (databases created
    now and dropped, with their connections, on exit).
    """
    if kind == "sqlite":
        yield {service: f"sqlite+aiosqlite:///{folder / f'{service}.db'}" for service in SERVICES}
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}; use sqlite or postgresql")
    run = uuid.uuid4().hex[:10]
    names = {service: f"cqrs_e2e_{service}_{run}" for service in SERVICES}
    asyncio.run(_execute([f'CREATE DATABASE "{name}"' for name in names.values()]))
    admin = sa.make_url(ADMIN_URL)
    try:
        yield {
            service: admin.set(database=name).render_as_string(hide_password=False)
            for service, name in names.items()
        }
    finally:
        asyncio.run(_execute([f'DROP DATABASE "{name}" WITH (FORCE)' for name in names.values()]))


async def _execute(statements: list[str]) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()
