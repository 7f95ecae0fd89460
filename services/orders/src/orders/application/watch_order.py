"""Follow an order live: a streaming query yielding each transition of its saga.

`WatchOrder(order_id, after=n)` streams, through `cqrs.StreamingRequestMediator`,
the transitions after the n-th, each as it is written, and ends after the
saga's last. The step log is the truth: each pass reads it, and `OrderChanges`
only says when to read again (pushed by the saga's writes; `poll_seconds`
apart at the slowest, should a notification be lost). An idle stream costs
no query.

A caller that has just read the order (the HTTP route does, to answer 404 or
204 before a stream starts) passes it as `known`, an `OrderSnapshot` with the
`OrderChanges.version` of the saga taken before that read: the stream's first
pass starts from it instead of reading the order again, unless the version
has moved since (a change may have committed after the read), and then reads.

A transition's `order_status` is `pending` until the last one, which carries
the outcome: the order is decided by its saga's end, even when a replay of an
old stream knows the outcome already.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import datetime
import uuid

import pydantic

import cqrs
from orders.application.get_order import OrderDetails, read_order
from orders.application.ports import OrderChanges, OrderReads
from orders.domain.order import OrderStatus, RejectionReason

__all__ = (
    "OrderSnapshot",
    "OrderTransition",
    "StreamTiming",
    "WatchOrder",
    "WatchOrderHandler",
)


class OrderSnapshot(pydantic.BaseModel):
    """An order as a caller read it, and the `OrderChanges.version` of its saga taken
    before that read."""

    details: OrderDetails
    version: int


class WatchOrder(cqrs.Request["OrderTransition"]):
    """Stream the transitions of order `order_id` after the `after`-th; `known`: the
    order as the caller has just read it (the stream starts from it while it is
    current)."""

    order_id: uuid.UUID
    after: int = 0
    known: OrderSnapshot | None = None


class OrderTransition(cqrs.Response):
    """One transition of an order's saga: a step's act or compensation, and how it went."""

    #: Its position in the saga's step log (1-based): a stream resumes after it.
    position: int
    order_id: str
    step: str
    action: str
    status: str
    at: datetime.datetime
    order_status: OrderStatus
    reason: RejectionReason | None
    #: Whether the saga has ended with it.
    last: bool


@dataclasses.dataclass(frozen=True)
class StreamTiming:
    """How often a stream reads the step log when no change was pushed (seconds).

    >>> StreamTiming().poll_seconds
    5.0
    """

    poll_seconds: float = 5.0


class WatchOrderHandler(cqrs.StreamingRequestHandler[WatchOrder, OrderTransition]):
    """Yields an order's transitions as its saga writes them; `OrderNotFoundError` for
    an unknown id."""

    def __init__(self, reads: OrderReads, changes: OrderChanges, timing: StreamTiming) -> None:
        self._reads = reads
        self._changes = changes
        self._timing = timing

    async def handle(self, request: WatchOrder) -> collections.abc.AsyncIterator[OrderTransition]:
        after = request.after
        # Following before the first read: a change between two reads is not missed.
        async with self._changes.following(request.order_id) as changed:
            # No await between this check and the clear below: no change slips between.
            details = self._still_current(request)
            while True:
                changed.clear()
                if details is None:
                    details = await read_order(self._reads, request.order_id)
                for position in range(after + 1, _known(details) + 1):
                    yield _transition(details, position)
                # Never back: the order is read after the log, so it may be ahead of it.
                after = max(after, _known(details))
                if details.finished:
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), self._timing.poll_seconds)
                details = None

    def _still_current(self, request: WatchOrder) -> OrderDetails | None:
        """The order the caller read, if no change of its saga has been heard since the
        version it took before that read (which then saw every committed change)."""
        known = request.known
        if known is None or known.details.order_id != str(request.order_id):
            return None
        if self._changes.version(request.order_id) != known.version:
            return None
        return known.details


def _known(details: OrderDetails) -> int:
    """How many transitions can be sent as they are: all of them, except that once the
    order is decided the latest one waits until the saga has ended, for it may be
    the last (the saga marks itself ended in a write of its own after logging it)."""
    if details.finished or details.status is OrderStatus.PENDING:
        return len(details.history)
    return len(details.history) - 1


def _transition(details: OrderDetails, position: int) -> OrderTransition:
    entry = details.history[position - 1]
    last = details.finished and position == len(details.history)
    return OrderTransition(
        position=position,
        order_id=details.order_id,
        step=entry.step,
        action=entry.action.value,
        status=entry.status,
        at=entry.at,
        order_status=details.status if last else OrderStatus.PENDING,
        reason=details.reason if last else None,
        last=last,
    )
