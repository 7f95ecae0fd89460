r"""The Server-Sent Events of an order: one per saga transition, until the saga ends.

Event `id` is the transition's position in the saga's step log (1-based), so
a client that reconnects with `Last-Event-ID: n` gets the transitions after
the n-th. Intermediate events are named `transition`; the last one, sent once
the saga has ended, `status`, and then the stream ends. The step log is
polled: whichever instance runs the saga, the database has its progress.

>>> frame("status", {"order_status": "confirmed"}, event_id=4)
'id: 4\nevent: status\ndata: {"order_status":"confirmed"}\n\n'
"""

from __future__ import annotations

import asyncio
import collections.abc
import json
import logging
import re
import time
import typing

from orders.application.get_order import OrderDetails
from orders.domain.order import OrderStatus

__all__ = ("order_events", "frame", "resume_position", "KEEPALIVE", "MAX_EVENT_ID_DIGITS")

logger = logging.getLogger("orders.sse")

#: A comment line: ignored by clients, it keeps proxies from closing an idle stream.
KEEPALIVE: typing.Final = ": keep-alive\n\n"
#: The most digits an event id has: a saga's step log is far shorter than 10^9 lines.
MAX_EVENT_ID_DIGITS: typing.Final = 9
_EVENT_ID: typing.Final = re.compile(f"[0-9]{{1,{MAX_EVENT_ID_DIGITS}}}")


def frame(event: str, data: typing.Mapping[str, object], *, event_id: int) -> str:
    """One SSE event, its data as compact JSON on a single line."""
    payload = json.dumps(data, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {event}\ndata: {payload}\n\n"


def resume_position(last_event_id: str | None) -> int:
    """How many transitions the client has seen, from its `Last-Event-ID`.

    An id this stream could not have sent (not 1 to `MAX_EVENT_ID_DIGITS` ASCII
    digits) is treated as absent: the client gets every transition.

    >>> resume_position("3"), resume_position(None), resume_position("x")
    (3, 0, 0)
    >>> resume_position("²"), resume_position("9" * 5000)
    (0, 0)
    """
    if last_event_id is None or not _EVENT_ID.fullmatch(last_event_id.strip()):
        return 0
    return int(last_event_id)


async def order_events(
    read: typing.Callable[[], typing.Awaitable[OrderDetails]],
    details: OrderDetails,
    after: int,
    *,
    poll_interval: float,
    keepalive: float,
    stopping: typing.Callable[[], bool],
) -> collections.abc.AsyncIterator[str]:
    """The events of the transitions after position `after`, polling `read` for more.

    `details` is the order as last read. The stream ends after the `status`
    event, when `stopping()` turns true (the server shuts down: the client
    reconnects and resumes), or when a read fails (likewise).
    """
    quiet_since = time.monotonic()
    while True:
        for position in range(after + 1, _known(details) + 1):
            yield _transition(details, position)
            quiet_since = time.monotonic()
        # Never back: the order is read after the log, so it may be ahead of it.
        after = max(after, _known(details))
        if details.finished or stopping():
            return
        await asyncio.sleep(poll_interval)
        if time.monotonic() - quiet_since >= keepalive:
            yield KEEPALIVE
            quiet_since = time.monotonic()
        try:
            details = await read()
        except Exception:
            logger.warning(
                "order %s: events stream ended, reading failed", details.order_id, exc_info=True
            )
            return


def _known(details: OrderDetails) -> int:
    """How many transitions can be sent as they are: all of them, except that once the
    order is decided the latest one waits until the saga has ended, for it may be
    the last (the saga marks itself ended in a write of its own after logging it)."""
    if details.finished or details.status is OrderStatus.PENDING:
        return len(details.history)
    return len(details.history) - 1


def _transition(details: OrderDetails, position: int) -> str:
    entry = details.history[position - 1]
    last = details.finished and position == len(details.history)
    data = {
        "order_id": details.order_id,
        "step": entry.step,
        "action": entry.action.value,
        "status": entry.status,
        "at": entry.at.isoformat(),
        # The order is decided by its saga's end: until the last event it is
        # pending, even when a replay of an old stream knows the outcome already.
        "order_status": details.status.value if last else OrderStatus.PENDING.value,
        "reason": None if details.reason is None or not last else details.reason.value,
    }
    return frame("status" if last else "transition", data, event_id=position)
