"""`LockWaits`: tells a test when one transaction is stuck behind another one's lock.

- PostgreSQL shows it: a backend waits on a lock in a statement on the table.
- SQLite does not, so the engines are watched: sqlite3's trace callback runs
  in the driver's thread as a statement starts, just before it asks for the
  write lock (`BEGIN IMMEDIATE` on an engine configured by `cqrs_sqla.sqlite`,
  the first `INSERT` on a plain one). A connection starting one while another
  connection's transaction is open will wait for it.
"""

from __future__ import annotations

import asyncio
import typing

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

__all__ = ("LockWaits",)

_WAITING_ON_A_LOCK = sa.text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND position(:table in query) > 0"
)
_POLL_INTERVAL = 0.01  # seconds between two looks at pg_stat_activity


class LockWaits:
    """Watches `engines` (all on one database) for a transaction waiting on `table`.

    Build it inside the test's event loop, before the transactions begin.
    """

    def __init__(self, table: sa.Table, *engines: AsyncEngine) -> None:
        self._table = table
        self._engine = engines[0]
        self._blocked = asyncio.Event()
        self._in_transaction: set[object] = set()  # DBAPI connections
        if self._engine.dialect.name == "sqlite":
            for engine in engines:
                self._watch(engine, asyncio.get_running_loop())

    async def until_blocked(self) -> None:
        """Return once some transaction waits for another one's lock."""
        if self._engine.dialect.name == "sqlite":
            await self._blocked.wait()
            return
        async with self._engine.connect() as connection:
            # A transaction per look: pg_stat_activity is a per-transaction snapshot.
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            table = {"table": self._table.name}
            while True:
                if (await connection.execute(_WAITING_ON_A_LOCK, table)).scalar_one():
                    return
                await asyncio.sleep(_POLL_INTERVAL)

    def _watch(self, engine: AsyncEngine, loop: asyncio.AbstractEventLoop) -> None:
        in_transaction = self._in_transaction

        def on_checkout(dbapi_connection: typing.Any, *_: object) -> None:
            def trace(statement: str) -> None:
                locking = statement.startswith(("INSERT", "BEGIN IMMEDIATE"))
                if locking and in_transaction - {dbapi_connection}:
                    loop.call_soon_threadsafe(self._blocked.set)

            await_only(dbapi_connection.driver_connection.set_trace_callback(trace))

        def began(connection: sa.Connection) -> None:
            in_transaction.add(connection.connection.dbapi_connection)

        def ended(connection: sa.Connection) -> None:
            in_transaction.discard(connection.connection.dbapi_connection)

        def checked_in(dbapi_connection: typing.Any, *_: object) -> None:
            in_transaction.discard(dbapi_connection)

        sync_engine = engine.sync_engine
        event.listen(sync_engine, "checkout", on_checkout)
        event.listen(sync_engine, "begin", began)
        event.listen(sync_engine, "commit", ended)
        event.listen(sync_engine, "rollback", ended)
        event.listen(sync_engine, "checkin", checked_in)
