"""`SqliteCommitWatch`: notice commits to a SQLite database file, from any process, cheaply.

SQLite has no `NOTIFY`. A relay waiting for new outbox rows would otherwise
poll the table every second. What every commit does change is a few bytes
in the database's files:

- in rollback-journal mode (SQLite's default), the *file change counter*
  in the database header (4 bytes at offset 24) goes up by one;
- in WAL mode, the header of the shared-memory index (`<db>-shm`, its first
  48 bytes) records the last frame and a change count.

Reading those 52 bytes takes two `pread`s, a few microseconds and no
connection, lock or thread; `changed` does it every `interval` seconds (10 ms
by default) and returns once they differ from what it saw last. It hears
every commit to the file, not only the outbox's: a wake that finds no rows
costs one empty claim. A commit it misses (the bytes changed and changed
back between two looks) only waits for the relay's next poll.

>>> import pathlib, sqlite3, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "app.db"
>>> with sqlite3.connect(path) as connection:
...     _ = connection.execute("CREATE TABLE t (x)")
>>> watch = SqliteCommitWatch(str(path))
>>> before = watch.signature()
>>> with sqlite3.connect(path) as connection:
...     _ = connection.execute("INSERT INTO t VALUES (1)")
>>> watch.signature() != before
True
"""

from __future__ import annotations

import asyncio
import os
import time

__all__ = ("SqliteCommitWatch",)

#: Where the file change counter sits in a SQLite database header, and its size.
_COUNTER_OFFSET, _COUNTER_SIZE = 24, 4
#: The shared-memory index header of a WAL database (two copies of 48 bytes; the first).
_SHM_HEADER_SIZE = 48


class SqliteCommitWatch:
    """Watches the database file at `database` (a path) for commits; see the module."""

    def __init__(self, database: str, *, interval: float = 0.01) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive (seconds), not {interval!r}.")
        self.database = database
        self.interval = interval
        self._seen: bytes | None = None

    def signature(self) -> bytes:
        """The bytes every commit changes (empty parts for files that do not exist yet)."""
        return _read(self.database, _COUNTER_OFFSET, _COUNTER_SIZE) + _read(
            f"{self.database}-shm", 0, _SHM_HEADER_SIZE
        )

    async def changed(self, timeout: float) -> bool:
        """Wait until a commit since the last call (or, on the first, one from now on);
        return True then, False after `timeout` seconds without one."""
        deadline = time.monotonic() + timeout
        if self._seen is None:
            self._seen = self.signature()
        while True:
            signature = self.signature()
            if signature != self._seen:
                self._seen = signature
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self.interval, remaining))


def _read(path: str, offset: int, size: int) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return b""
    try:
        return os.pread(descriptor, size, offset)
    finally:
        os.close(descriptor)
