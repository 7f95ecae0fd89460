"""Throwaway PostgreSQL databases for tests, dropping their connections, and counting
statements.

Tests get a database of their own, created on the server named by
`$CQRS_TEST_POSTGRES_URL` (an SQLAlchemy asyncpg URL; its database is only
used to create and drop the throwaway ones), by default the local server as
user postgres. A missing server makes the tests fail, never skip.

```
@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_postgres_database("billing_test") as url:
        yield url
```

`terminate_connections(url)` does to every connection of a database what a
server restart or an idle timeout does, to test that code recovers from it.
`drop_pooled_connection(engine)` does it to the connection an engine's pool
would lend next, and returns once the driver has seen it gone:

```
victim = await drop_pooled_connection(engine)
async with engine.connect() as connection:  # a new connection, no error
    assert (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar() != victim
```

`statements_sent(engine)` lists the SQL an engine sends while a block runs, for
tests that hold a path to its number of round trips:

```
with statements_sent(engine) as sent:
    await repository.lock_order("o-1")
assert len(sent) == 1
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import os
import time
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

__all__ = (
    "POSTGRES_ENV",
    "admin_url",
    "drop_pooled_connection",
    "statements_sent",
    "throwaway_postgres_database",
    "terminate_connections",
)

#: Environment variable naming the PostgreSQL server the tests use.
POSTGRES_ENV = "CQRS_TEST_POSTGRES_URL"
_DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The URL of the tests' PostgreSQL server (`$CQRS_TEST_POSTGRES_URL` or the local one)."""
    return os.environ.get(POSTGRES_ENV) or _DEFAULT_ADMIN_URL


@contextlib.contextmanager
def throwaway_postgres_database(
    prefix: str = "cqrs_test",
) -> collections.abc.Generator[str, None, None]:
    """Create a database named `<prefix>_<random>`, yield its URL, then drop it (and its
    connections). Call it outside a running event loop (a session fixture, say)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.make_url(admin_url())
    asyncio.run(_administer(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_administer(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _administer(admin: sa.URL, statement: str) -> None:
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def terminate_connections(url: str) -> None:
    """End every connection to `url`'s database but the one this takes (from outside
    any pool): pooled connections find theirs dropped by the server at their next use."""
    outsider = create_async_engine(url, poolclass=NullPool)
    try:
        async with outsider.connect() as connection:
            await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await outsider.dispose()


async def drop_pooled_connection(engine: AsyncEngine, timeout: float = 10.0) -> int:
    """Have the server end the connection `engine`'s pool lends next (taken once and given
    back, so pooled), as a restart or an idle timeout would; return its backend pid once
    asyncpg has read the end of its socket (until then, nothing but a use tells it is
    gone). Raises `TimeoutError` when that takes over `timeout` seconds."""
    async with engine.connect() as connection:
        victim = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        driver = typing.cast(typing.Any, (await connection.get_raw_connection()).driver_connection)
    outsider = create_async_engine(engine.url, poolclass=NullPool)
    try:
        async with outsider.connect() as killer:
            await killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    finally:
        await outsider.dispose()
    deadline = time.monotonic() + timeout
    while not driver.is_closed():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not end connection {victim} in {timeout} s")
        await asyncio.sleep(0.01)
    return int(victim)


@contextlib.contextmanager
def statements_sent(
    engine: AsyncEngine | AsyncConnection,
) -> collections.abc.Generator[list[str], None, None]:
    """The SQL of each statement `engine` (or a connection's engine) sends while the block
    runs, in order: each is one round trip."""
    sent: list[str] = []

    def note(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
