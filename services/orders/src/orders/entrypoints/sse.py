"""An order's transitions as Server-Sent Events (FastAPI's `EventSourceResponse`).

Event `id` is the transition's position in the saga's step log (1-based), so
a client that reconnects with `Last-Event-ID: n` gets the transitions after
the n-th. Intermediate events are named `transition`; the last one, sent once
the saga has ended, `status`, and then the stream ends. The transitions come
from the streaming query `WatchOrder` (`orders.application.watch_order`);
this module only frames them, and ends a stream when the server stops (the
client reconnects and resumes elsewhere).

>>> resume_position("3"), resume_position(None)
(3, 0)
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import re
import typing

from fastapi.sse import ServerSentEvent

from orders.application.watch_order import OrderTransition

__all__ = ("MAX_EVENT_ID_DIGITS", "event_of", "resume_position", "until_stopped")

#: The most digits an event id has: a saga's step log is far shorter than 10^9 lines.
MAX_EVENT_ID_DIGITS: typing.Final = 9
_EVENT_ID: typing.Final = re.compile(f"[0-9]{{1,{MAX_EVENT_ID_DIGITS}}}")
_T = typing.TypeVar("_T")


def resume_position(last_event_id: str | None) -> int:
    """How many transitions the client has seen, from its `Last-Event-ID`.

    An id this stream could not have sent (not 1 to `MAX_EVENT_ID_DIGITS` ASCII
    digits) is treated as absent: the client gets every transition.

    >>> resume_position(" 2 "), resume_position("x"), resume_position("-1")
    (2, 0, 0)
    >>> resume_position("²"), resume_position("9" * 5000)
    (0, 0)
    """
    if last_event_id is None or not _EVENT_ID.fullmatch(last_event_id.strip()):
        return 0
    return int(last_event_id)


def event_of(transition: OrderTransition) -> ServerSentEvent:
    """The event of one transition: `id` its position, named `status` when it is the last."""
    data = transition.model_dump(mode="json", exclude={"position", "last"})
    return ServerSentEvent(
        id=str(transition.position),
        event="status" if transition.last else "transition",
        data=data,
    )


async def until_stopped(
    stream: collections.abc.AsyncGenerator[_T, None], stopping: asyncio.Event
) -> collections.abc.AsyncGenerator[_T, None]:
    """The items of `stream` until it ends or `stopping` is set (the server shuts down)."""
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(stream))
            await asyncio.wait({following, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopped.cancel()
        await stream.aclose()
