"""`OpenSessions`: the sessions an outbox repository opened, seen per task.

One repository is often shared by every handler of a service (a singleton in
a DI container). It must not keep "the open session" on itself: a second
handler entering `async with outbox` would replace the first one's session,
and the first one's `commit()` would then commit, or its block close, the
other's. `OpenSessions` keeps each task's own: what `async with outbox` opens
in a task is what `commit()` without a session and the end of the block find
there, innermost block first. Open and leave a block in the same task.

>>> import asyncio
>>> sessions = OpenSessions[str]()
>>> async def handler(name: str) -> str:
...     sessions.push(name)
...     await asyncio.sleep(0)  # the other handler runs meanwhile
...     current = sessions.current()
...     sessions.pop()
...     return f"{name} sees {current}"
>>> async def both() -> list[str]:
...     return list(await asyncio.gather(handler("a"), handler("b")))
>>> asyncio.run(both())
['a sees a', 'b sees b']
"""

from __future__ import annotations

import contextvars
import typing

from typing_extensions import TypeVar

__all__ = ("OpenSessions",)

SessionT = TypeVar("SessionT")

# One variable for every repository: a task's open blocks as (owner, session), innermost
# last. (Context variables are meant to be created once, at module level.)
_OPEN: contextvars.ContextVar[tuple[tuple[object, object], ...]] = contextvars.ContextVar(
    "cqrs_outbox_open_sessions", default=()
)


class OpenSessions(typing.Generic[SessionT]):
    """The sessions one repository opened, as the current task sees them."""

    def push(self, session: SessionT) -> None:
        """Record `session` as the innermost one this repository opened in this task."""
        _OPEN.set((*_OPEN.get(), (self, session)))

    def current(self) -> SessionT | None:
        """The innermost session this repository opened in this task, or `None`."""
        for owner, session in reversed(_OPEN.get()):
            if owner is self:
                return typing.cast(SessionT, session)
        return None

    def pop(self) -> SessionT | None:
        """Forget the innermost session this repository opened in this task; return it
        (`None` when there is none)."""
        opened = _OPEN.get()
        for index in range(len(opened) - 1, -1, -1):
            owner, session = opened[index]
            if owner is self:
                _OPEN.set(opened[:index] + opened[index + 1 :])
                return typing.cast(SessionT, session)
        return None
