"""`FileWrites`: hear, without polling, that a process wrote to some files of a folder.

Linux's inotify reports every `write()` to a file of a watched folder, by any
process on the host, through one descriptor the event loop reads when it
is ready (`loop.add_reader`): no thread, no timer, nothing spent while
nobody writes. `cqrs_sqla.sqlite_watch.SqliteCommitWatch` uses it to look
for a commit as soon as a writer appends to `<db>-wal` (or, in the rollback
journal, writes `<db>`), instead of only at its next timed look.

It tells of writes, not commits: SQLite writes a transaction's pages, then
syncs them, then publishes the commit (in WAL mode in the shared-memory
index, which is mapped memory and makes no event). The watch therefore
looks again and again for a short while after a write. Events the kernel
drops (its queue overflowed) count as a write to every file.

`FileWrites.open` returns None where inotify is missing (another system, a
libc without it, a folder it cannot watch); callers then keep to their timer.

>>> import asyncio, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> async def main() -> tuple[bool, bool]:
...     writes = FileWrites.open(str(folder), {"app.db-wal"})
...     if writes is None:  # not Linux: nothing to show
...         return False, True
...     (folder / "other.txt").write_text("ignored")
...     quiet = await writes.wait(0.05)
...     (folder / "app.db-wal").write_bytes(b"frame")
...     heard = await writes.wait(5)
...     writes.close()
...     return quiet, heard
>>> asyncio.run(main())
(False, True)
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
import typing

__all__ = ("FileWrites",)

#: inotify's flags and event masks (<sys/inotify.h>).
_IN_MODIFY: typing.Final = 0x00000002
_IN_Q_OVERFLOW: typing.Final = 0x00004000
#: An event's fixed part: watch descriptor, mask, cookie, length of the name that follows.
_EVENT = struct.Struct("iIII")


class FileWrites:
    """Writes to the files `names` of the folder an inotify descriptor watches; see the module."""

    def __init__(self, descriptor: int, names: typing.AbstractSet[str]) -> None:
        self._descriptor: int | None = descriptor
        self._names = frozenset(name.encode() for name in names)
        self._written = False
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def open(cls, folder: str, names: typing.AbstractSet[str]) -> FileWrites | None:
        """Watch `folder` for writes to the files `names` (base names); None where
        inotify cannot (see the module)."""
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            init, add_watch = libc.inotify_init1, libc.inotify_add_watch
        except (OSError, AttributeError):
            return None
        descriptor = init(os.O_NONBLOCK | os.O_CLOEXEC)
        if descriptor < 0:
            return None
        if add_watch(descriptor, os.fsencode(folder), _IN_MODIFY) < 0:
            os.close(descriptor)
            return None
        return cls(descriptor, names)

    async def wait(self, timeout: float) -> bool:
        """Wait until one of the files was written since the last call (at once if it was);
        True then, False after `timeout` seconds without such a write."""
        loop = self._listen()
        if not self._written:
            # A future and a timer: the relays wait here a hundred times a second while
            # idle, where `asyncio.wait_for` would make a task each time.
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        written, self._written = self._written, False
        return written

    def forget(self) -> None:
        """Drop the writes heard so far: the next `wait` waits for a new one."""
        if self._descriptor is not None:
            self._read()
        self._written = False

    def close(self) -> None:
        """Stop watching; `wait` then only waits out its timeout."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        self._forget_loop()
        os.close(descriptor)

    def _listen(self) -> asyncio.AbstractEventLoop:
        """The running loop, made to read the descriptor (again, after a loop change)."""
        loop = asyncio.get_running_loop()
        if self._descriptor is not None and loop is not self._loop:
            self._forget_loop()
            loop.add_reader(self._descriptor, self._read)
            self._loop = loop
        return loop

    def _forget_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed() and self._descriptor is not None:
            loop.remove_reader(self._descriptor)

    def _read(self) -> None:
        """Read every queued event; note a write to a watched file, and wake the waiter."""
        assert self._descriptor is not None
        while True:
            try:
                events = os.read(self._descriptor, 4096)
            except BlockingIOError:
                return
            if not events:
                return
            if self._concerns_us(events):
                self._written = True
                if self._waiter is not None:
                    _resolve(self._waiter)

    def _concerns_us(self, events: bytes) -> bool:
        offset = 0
        while offset + _EVENT.size <= len(events):
            _, mask, _, length = _EVENT.unpack_from(events, offset)
            name = events[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & _IN_Q_OVERFLOW or name in self._names:
                return True
        return False


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
