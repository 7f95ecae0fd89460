"""`RelayLock`: relays on one SQLite database take turns, across processes, on any OS.

SQLite has one writer at a time, and holding its write lock while a relay
publishes would stall every writer of the database. So relays serialise
their claims on a lock of their own: an exclusive transaction on a second,
empty SQLite file next to the database (`<database>.relay.lock`). It is
SQLite's own file locking, which works wherever SQLite does (no `fcntl`,
which Windows lacks), and the operating system releases it when the process
holding it dies, so a killed relay never leaves the others locked out.

Taking the lock does not block the event loop: it is tried without waiting,
and tried again every `poll_interval` seconds while another relay holds it.

>>> import asyncio, pathlib, tempfile
>>> async def turns(folder: str) -> list[str]:
...     path = pathlib.Path(folder) / "app.db.relay.lock"
...     first, second = RelayLock(path), RelayLock(path, poll_interval=0.01)
...     order: list[str] = []
...     async with first:
...         waiting = asyncio.ensure_future(second.__aenter__())
...         await asyncio.sleep(0.05)
...         order.append(f"second waits: {not waiting.done()}")
...     await waiting
...     order.append("second holds it")
...     await second.__aexit__(None, None, None)
...     return order
>>> with tempfile.TemporaryDirectory() as folder:
...     asyncio.run(turns(folder))
['second waits: True', 'second holds it']
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import types

from typing_extensions import Self

__all__ = ("RelayLock",)

#: Seconds between two tries of a lock another relay holds.
DEFAULT_POLL_INTERVAL = 0.05


class RelayLock:
    """An exclusive lock on the file `path`, held from `async with` to its end."""

    def __init__(
        self, path: str | os.PathLike[str], *, poll_interval: float = DEFAULT_POLL_INTERVAL
    ) -> None:
        self.path = os.fspath(path)
        self.poll_interval = poll_interval
        self._connection: sqlite3.Connection | None = None

    async def __aenter__(self) -> Self:
        while True:
            if self._try_lock():
                return self
            # Another process holds it: nothing to wait on but the file, so poll.
            await asyncio.sleep(self.poll_interval)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # ends the transaction, which releases the lock

    def _try_lock(self) -> bool:
        # timeout=0: SQLite answers "locked" at once instead of waiting in this thread.
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as error:
            connection.close()
            if "locked" not in str(error):
                raise
            return False
        self._connection = connection
        return True
