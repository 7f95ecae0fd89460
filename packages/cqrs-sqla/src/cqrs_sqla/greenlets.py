"""`spawn`: SQLAlchemy's `greenlet_spawn`, on greenlets kept for reuse.

Under asyncio, SQLAlchemy runs its synchronous code (the pool's checkout and
checkin, say) in a greenlet from which `sqlalchemy.util.await_only` can
await: `greenlet_spawn` makes a new greenlet per call. On Python 3.11 a
new greenlet gets a frame stack of its own at its first Python call, which
the interpreter maps from the kernel and unmaps when the greenlet ends: an
mmap, an munmap and the page faults of fresh memory on every call. The saga
storage takes a pooled connection per statement, so that was one of each per
statement (strace: 14,000 of each for 3,300 sagas), and the kernel time rose
with the number of sagas in flight. The greenlets here run one function
after another and keep their frame stack in between; SQLAlchemy's
`await_only` works in them as in its own.

>>> import asyncio
>>> asyncio.run(spawn(lambda: 6 * 7))
42
"""

from __future__ import annotations

import collections.abc
import threading
import typing

import greenlet

__all__ = ("spawn",)

T = typing.TypeVar("T")

#: Idle greenlets kept per thread, at most: each holds its frame stack (16 KiB and up).
MAX_IDLE: typing.Final = 64


class _Done:
    """What a function run in a `_Reusable` came to: its result or its error."""

    __slots__ = ("error", "value")

    def __init__(self, value: object, error: BaseException | None) -> None:
        self.value = value
        self.error = error


class _Reusable(greenlet.greenlet):
    """A greenlet that runs the functions it is switched to with, one after another."""

    # SQLAlchemy's `await_only` switches out of a greenlet that says this (as its own do).
    __sqlalchemy_greenlet_provider__ = True

    def __init__(self) -> None:
        super().__init__(self._serve)  # pyright: ignore[reportUnknownMemberType]

    def _serve(self, fn: collections.abc.Callable[[], object]) -> None:
        while True:
            try:
                done = _Done(fn(), None)
            except greenlet.GreenletExit:
                raise  # collected while suspended: end, as any greenlet
            except BaseException as error:  # handed to the caller, as greenlet_spawn does
                done = _Done(None, error)
            # Parked here until the next function comes (or the greenlet is collected).
            fn = self.parent.switch(done)  # pyright: ignore[reportOptionalMemberAccess]


class _Idle(threading.local):
    """A thread's idle greenlets (greenlets belong to the thread that made them)."""

    def __init__(self) -> None:
        self.greenlets: list[_Reusable] = []


_idle = _Idle()


async def spawn(fn: collections.abc.Callable[[], T]) -> T:
    """Run `fn` as `sqlalchemy.util.greenlet_spawn(fn)` does (it may `await_only`), on an
    idle greenlet of this thread when there is one; return its result or raise its error."""
    idle = _idle.greenlets
    worker = idle.pop() if idle else _Reusable()
    current = greenlet.getcurrent()
    worker.parent = current
    # The function sees the caller's context variables, as under greenlet_spawn.
    worker.gr_context = current.gr_context
    result: typing.Any = worker.switch(fn)
    while not isinstance(result, _Done):
        awaitable = typing.cast(collections.abc.Awaitable[object], result)
        try:
            value = await awaitable
        except BaseException as error:
            # Into the function, where it was awaiting, so that its own handling runs.
            result = worker.throw(error)
        else:
            result = worker.switch(value)
    worker.gr_context = None  # let go of the caller's context while parked
    if len(idle) < MAX_IDLE:
        idle.append(worker)
    if result.error is not None:
        error, result.error = result.error, None
        raise error
    return typing.cast(T, result.value)
