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
every commit to the file, not only the outbox's: the relay's store then asks
`cqrs_sqla.sqlite_outbox_probe` whether it added outbox rows before it
claims. A commit it misses (the bytes changed and changed
back between two looks) only waits for the relay's next poll.

The files stay open: a process never closes a descriptor of them while it
runs. SQLite's locks are POSIX advisory locks, which belong to the process
and the file, and closing *any* descriptor of a file drops every one of them
the process holds on it, SQLite's included (SQLite's "How To Corrupt An
SQLite Database File", 2.2). Opening and closing the files at each look did
that a hundred times a second: in WAL mode the process's connections lost the
shared lock that tells another process closing its last connection that the
file is still in use, and that process then checkpointed and deleted
`<db>-wal` and `<db>-shm` under them. They went on reading and writing the
deleted files, and saw no commit of the other processes again. So each file
is opened once per process, shared by every watch, and its descriptor closed
only when the path names another file (or none): then no connection of this
process can hold a lock on the old one that anyone else would look at.

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
import threading
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


#: Open descriptors of the files watched in this process, by path: never closed while
#: the path names the same file (see the module).
_descriptors: dict[str, int] = {}
_descriptors_lock = threading.Lock()


def _read(path: str, offset: int, size: int) -> bytes:
    descriptor = _descriptor(path)
    return b"" if descriptor is None else os.pread(descriptor, size, offset)


def _descriptor(path: str) -> int | None:
    """This process's descriptor of the file at `path` (None if there is none)."""
    with _descriptors_lock:
        descriptor = _descriptors.get(path)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if descriptor is not None:
            if current is not None and os.path.samestat(current, os.fstat(descriptor)):
                return descriptor
            # The path was deleted (or replaced): no connection of this process can
            # hold a lock on the old file that another process would consult.
            del _descriptors[path]
            os.close(descriptor)
        if current is None:
            return None
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        _descriptors[path] = descriptor
        return descriptor
