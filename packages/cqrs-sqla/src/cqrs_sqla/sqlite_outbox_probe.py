"""`PendingRowsProbe`: did a commit to a SQLite file add outbox rows? One cheap read.

The relays' commit watch (`cqrs_sqla.sqlite_watch`) hears every commit to
the database file, whatever it wrote: a saga's step, an inbox row, the
relay's own marks. Most of them add no outbox row, and a relay woken by one
made an empty claim (its file lock, a pooled connection through aiosqlite's
thread, `BEGIN`, the `SELECT`s, `COMMIT`, the pool's reset: about 1.6 ms of
CPU). The probe answers first, with one statement on a plain `sqlite3`
connection of its own, in the calling thread: the id of the newest pending
row (`max(id)` over the outbox's partial index of pending rows, a few pages
of one B-tree; tens of microseconds). A new row always gets an id above
every other, so the value changes when rows are added, and the relay only
needs to claim when it changed to a row.

It is a hint, never a guarantee: `changed` answers True when it cannot tell
(the first look, a read that failed or found the file busy). Rows it does
not announce are those that become due without a new row (a failed row's
retry, rows an operator requeued below the newest pending one): the relay's
poll (`poll_interval`, a second by default) finds them, as it finds rows of
a commit the watch missed.

Its connection reads in autocommit and finishes each statement, so it holds
no lock between looks (in WAL mode no snapshot a checkpoint would wait
for). It is SQLite's own connection, so closing it keeps the other
connections' locks in the process (SQLite defers closing a file descriptor
while they hold locks), unlike a plain `open()`/`close()` of the file.

>>> import pathlib, sqlite3, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "app.db"
>>> with sqlite3.connect(path) as connection:
...     _ = connection.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, status TEXT)")
>>> probe = PendingRowsProbe(str(path), "SELECT max(id) FROM outbox WHERE status = 'pending'")
>>> probe.changed()  # a first look cannot tell
True
>>> with sqlite3.connect(path) as connection:
...     _ = connection.execute("CREATE TABLE saga (id INTEGER PRIMARY KEY)")
...     _ = connection.execute("INSERT INTO saga VALUES (1)")
>>> probe.changed()  # no outbox row
False
>>> with sqlite3.connect(path) as connection:
...     _ = connection.execute("INSERT INTO outbox VALUES (1, 'pending')")
>>> probe.changed()
True
>>> probe.close()
"""

from __future__ import annotations

import sqlite3
import urllib.parse

__all__ = ("PendingRowsProbe",)

#: What `_newest` returns for a look that could not tell.
_UNKNOWN = object()


class PendingRowsProbe:
    """Reads `query` (one row, one value: the newest pending row's id, or NULL) from
    the SQLite file at `database`; see the module."""

    def __init__(self, database: str, query: str) -> None:
        self.database = database
        self.query = query
        self._connection: sqlite3.Connection | None = None
        self._seen: object = _UNKNOWN

    def changed(self) -> bool:
        """True when the value is a row that differs from the last look's, or when this
        look (or the last) could not tell; False when no pending row was added."""
        seen, self._seen = self._seen, self._newest()
        if seen is _UNKNOWN or self._seen is _UNKNOWN:
            return True
        return self._seen is not None and self._seen != seen

    def forget(self) -> None:
        """Make the next `changed` answer True: what it saw last may not have been
        claimed (the claim failed), so the next commit should wake the relay."""
        self._seen = _UNKNOWN

    def close(self) -> None:
        """Close the connection (the next look opens another)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _newest(self) -> object:
        try:
            connection = self._connect()
            cursor = connection.execute(self.query)
            try:
                # Every row fetched: the statement is finished, and its read lock gone.
                rows = cursor.fetchall()
            finally:
                cursor.close()
        except sqlite3.Error:
            # Busy, a file replaced, a table not there yet: the claim will know better.
            self.close()
            return _UNKNOWN
        return rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else _UNKNOWN

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # mode=rw: never creates the file; timeout=0: a busy file answers at once
            # (the look then says "could not tell") instead of blocking this thread.
            uri = f"file:{urllib.parse.quote(self.database)}?mode=rw"
            self._connection = sqlite3.connect(
                uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
            )
        return self._connection
