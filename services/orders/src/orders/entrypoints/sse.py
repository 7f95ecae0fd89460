"""An order's transitions as Server-Sent Events.

Event `id` is the transition's position in the saga's step log (1-based), so
a client that reconnects with `Last-Event-ID: n` gets the transitions after
the n-th. Intermediate events are named `transition`; the last one, sent once
the saga has ended, `status`, and then the stream ends. The transitions come
from the streaming query `WatchOrder` (`orders.application.watch_order`);
this module frames them and sends them (`EventStreamResponse`), and ends a
stream when the server stops (the client reconnects and resumes elsewhere).

`EventStreamResponse` writes each event as it comes, from one task per stream:
no queue between the query and the socket (a slow client holds the query at
its next event: memory stays bounded), a `: ping` comment after
`PING_SECONDS` without a write (proxies keep the connection), and the query
closed as soon as the client disconnects or the server stops. It writes what
FastAPI's `EventSourceResponse` wrote for the same events (`text/event-stream`,
`event:`, `data:` as JSON, `id:` lines, no-cache headers), without its producer
task and two memory streams per stream and its task per event.

>>> resume_position("3"), resume_position(None)
(3, 0)
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import json
import re
import typing

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orders.application.watch_order import OrderTransition

__all__ = (
    "EVENT_SCHEMA",
    "MAX_EVENT_ID_DIGITS",
    "PING",
    "PING_SECONDS",
    "EventStreamResponse",
    "event_of",
    "resume_position",
)

#: The most digits an event id has: a saga's step log is far shorter than 10^9 lines.
MAX_EVENT_ID_DIGITS: typing.Final = 9
#: Seconds without a write after which an idle stream sends `PING`.
PING_SECONDS: typing.Final = 15.0
#: The keep-alive comment (clients ignore comments).
PING: typing.Final = b": ping\n\n"
#: The OpenAPI schema of one event (OpenAPI 3.2's `itemSchema` of `text/event-stream`).
EVENT_SCHEMA: typing.Final[dict[str, typing.Any]] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
_EVENT_ID: typing.Final = re.compile(f"[0-9]{{1,{MAX_EVENT_ID_DIGITS}}}")


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


def event_of(transition: OrderTransition) -> bytes:
    """The event of one transition, as sent: named `status` when it is the last, `data`
    the transition as JSON, `id` its position.

    >>> import datetime
    >>> event = event_of(OrderTransition(
    ...     position=2, order_id="o-1", step="ReserveStock", action="act", status="completed",
    ...     at=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    ...     order_status="pending", reason=None, last=False,
    ... ))
    >>> lines = event.decode().splitlines()
    >>> lines[0], lines[1][:32], lines[2:], event.endswith(b"2\\n\\n")
    ('event: transition', 'data: {"order_id": "o-1", "step"', ['id: 2', ''], True)
    """
    name = "status" if transition.last else "transition"
    # JSON holds no line break: the data is one `data:` line.
    data = json.dumps(transition.model_dump(mode="json", exclude={"position", "last"}))
    return f"event: {name}\ndata: {data}\nid: {transition.position}\n\n".encode()


class EventStreamResponse(Response):
    """Sends each transition of `transitions` as an event (`event_of`) as it comes, and
    ends after the last, or when `stopping` is set (the server shuts down); closes
    `transitions` as soon as the client disconnects."""

    # The type is a header of its own: a class `media_type` would make FastAPI add a
    # `schema` to the OpenAPI document's event stream, next to `EVENT_SCHEMA`.
    media_type = None

    def __init__(
        self,
        transitions: collections.abc.AsyncGenerator[OrderTransition, None],
        stopping: asyncio.Event,
        *,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx passes each event on at once
            }
        )
        self._transitions = transitions
        self._stopping = stopping
        self._ping_seconds = ping_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        writing = asyncio.Lock()  # the events and the pings, one message at a time
        last_write = loop.time()

        async def write(body: bytes) -> None:
            nonlocal last_write
            async with writing:
                last_write = loop.time()
                await send({"type": "http.response.body", "body": body, "more_body": True})

        async def send_events() -> None:
            async for transition in self._transitions:
                await write(event_of(transition))

        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sending = asyncio.ensure_future(send_events())
        disconnected = asyncio.ensure_future(_disconnect(receive))
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                idle = loop.time() - last_write
                if idle >= self._ping_seconds and not writing.locked():
                    await write(PING)
                    continue
                # A write under way (a slow client) counts as one: the next ping waits.
                left = self._ping_seconds - idle
                await asyncio.wait(
                    (sending, disconnected, stopped),
                    timeout=left if left > 0 else self._ping_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if sending.done():
                    sending.result()  # the query's error, if it failed
                    break
                if stopped.done():
                    break
                if disconnected.done():
                    return  # nobody to tell the stream ends
        finally:
            disconnected.cancel()
            stopped.cancel()
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
            await self._transitions.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnect(receive: Receive) -> None:
    """Returns once the client has disconnected (a GET's request has no body to read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
