"""aiosqlite connections that run a statement in one trip to their thread.

aiosqlite runs each call on a sqlite3 connection in a thread of its own and
hands the result back to the event loop. SQLAlchemy's aiosqlite dialect
makes four such calls per statement (open a cursor, execute, fetch the
rows, close the cursor), each waking the thread and then the loop; with a
`BEGIN IMMEDIATE` and a `COMMIT`, a one-statement transaction took six.
`OneHopConnection.cursor` returns a cursor whose `execute` does all four in
one call, so a statement costs one trip: it brings back up to `PREFETCH`
rows with the statement and fetches more (one trip per batch) only for a
larger result, which keeps a streamed result's memory bounded. Its
`rollback` makes no trip when no transaction is open: SQLAlchemy's pool
rolls back every connection it is handed back, after a commit too, and
sqlite3 would do nothing in the thread then.

`configure_sqlite` has SQLAlchemy's aiosqlite dialect connect with it (the
dialect's own `async_creator_fn` argument), so every engine from
`cqrs_sqla.create_engine` on SQLite uses it.

>>> import asyncio
>>> async def demo() -> list[tuple[int, str]]:
...     async with OneHopConnection.open(":memory:") as connection:
...         cursor = await connection.cursor()
...         await cursor.execute("SELECT 1, 'one'")
...         return list(await cursor.fetchall())
>>> asyncio.run(demo())
[(1, 'one')]
"""

from __future__ import annotations

import collections.abc
import functools
import sqlite3
import typing

import aiosqlite

__all__ = ("PREFETCH", "OneHopConnection", "OneHopCursor")

#: Rows a statement brings back in its own trip; more are fetched in batches this big.
PREFETCH: typing.Final = 256

_Row = typing.Any
_Result = typing.TypeVar("_Result")
_Parameters = collections.abc.Sequence[typing.Any] | collections.abc.Mapping[str, typing.Any]


class OneHopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors take one thread trip per statement."""

    @classmethod
    def open(cls, database: str, **kwargs: typing.Any) -> OneHopConnection:
        """A connection to `database` (a path, or a URI with `uri=True`), opened when
        awaited; `kwargs` go to `sqlite3.connect`. Its thread does not keep the
        interpreter alive (as in SQLAlchemy's dialect)."""
        connection = cls(functools.partial(sqlite3.connect, database, **kwargs), 64)
        connection._thread.daemon = True
        return connection

    async def cursor(self) -> OneHopCursor:  # pyright: ignore[reportIncompatibleMethodOverride]
        """A cursor of this connection; it opens a sqlite3 cursor per statement."""
        return OneHopCursor(self)

    async def rollback(self) -> None:
        """Roll back the open transaction; nothing, and no trip to the thread, without one."""
        connection = self._connection
        # Read in the loop's thread as aiosqlite's own `in_transaction` does: the thread
        # runs nothing of this connection's now, as its one user awaits each call.
        if connection is not None and not connection.in_transaction:
            return
        await super().rollback()

    async def call(
        self, function: collections.abc.Callable[[sqlite3.Connection], _Result]
    ) -> _Result:
        """`function(sqlite3 connection)`, run in the connection's thread."""
        # aiosqlite's own queue of calls (untyped), as its methods use it.
        result: _Result = await self._execute(function, self._conn)  # pyright: ignore[reportUnknownMemberType]
        return result


class OneHopCursor:
    """The part of aiosqlite's cursor SQLAlchemy's dialect uses, a trip per statement."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self._cursor: sqlite3.Cursor | None = None  # open while rows are left to fetch
        self._rows: list[_Row] = []
        self.description: typing.Any = None
        self.lastrowid: int | None = None
        self.rowcount = -1

    async def execute(self, sql: str, parameters: _Parameters = ()) -> OneHopCursor:
        await self._run(lambda cursor: cursor.execute(sql, parameters))
        return self

    async def executemany(
        self, sql: str, parameters: collections.abc.Iterable[_Parameters]
    ) -> OneHopCursor:
        await self._run(lambda cursor: cursor.executemany(sql, parameters))
        return self

    async def _run(self, statement: collections.abc.Callable[[sqlite3.Cursor], object]) -> None:
        await self.close()

        def run(connection: sqlite3.Connection) -> tuple[sqlite3.Cursor | None, list[_Row]]:
            cursor = connection.cursor()
            try:
                statement(cursor)
                self.description = cursor.description
                self.lastrowid = cursor.lastrowid
                self.rowcount = cursor.rowcount
                rows = cursor.fetchmany(PREFETCH) if cursor.description else []
            except BaseException:
                cursor.close()
                raise
            if len(rows) < PREFETCH:
                cursor.close()
                return None, rows
            return cursor, rows

        self._cursor, self._rows = await self._connection.call(run)

    async def fetchone(self) -> _Row | None:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def fetchmany(self, size: int | None = None) -> list[_Row]:
        wanted = PREFETCH if size is None else size
        while len(self._rows) < wanted and await self._fetch_more():
            pass
        rows, self._rows = self._rows[:wanted], self._rows[wanted:]
        return rows

    async def fetchall(self) -> list[_Row]:
        while await self._fetch_more():
            pass
        rows, self._rows = self._rows, []
        return rows

    async def _fetch_more(self) -> bool:
        """Fetch the next batch into the buffer; False once the result is exhausted."""
        cursor = self._cursor
        if cursor is None:
            return False

        def fetch(_connection: sqlite3.Connection) -> list[_Row]:
            rows = cursor.fetchmany(PREFETCH)
            if len(rows) < PREFETCH:
                cursor.close()
            return rows

        rows = await self._connection.call(fetch)
        if len(rows) < PREFETCH:
            self._cursor = None
        self._rows += rows
        return bool(rows)

    async def close(self) -> None:
        self._rows = []
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            await self._connection.call(lambda _connection: cursor.close())
