"""The event stream's framing and its end when the server stops."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime

from orders.application.watch_order import OrderTransition
from orders.domain.order import OrderStatus, RejectionReason
from orders.entrypoints import sse

AT = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def transition(position: int, *, last: bool) -> OrderTransition:
    return OrderTransition(
        position=position,
        order_id="o-1",
        step="OpenOrder",
        action="compensate",
        status="completed",
        at=AT,
        order_status=OrderStatus.REJECTED if last else OrderStatus.PENDING,
        reason=RejectionReason.PAYMENT_DECLINED if last else None,
        last=last,
    )


def test_a_transition_is_named_by_whether_it_ends_the_saga_and_numbered_by_position() -> None:
    middle, end = sse.event_of(transition(3, last=False)), sse.event_of(transition(6, last=True))

    assert (middle.id, middle.event, end.id, end.event) == ("3", "transition", "6", "status")
    assert end.data == {
        "order_id": "o-1",
        "step": "OpenOrder",
        "action": "compensate",
        "status": "completed",
        "at": "2024-01-01T00:00:00Z",
        "order_status": "rejected",
        "reason": "payment_declined",
    }


async def test_the_stream_ends_when_the_server_stops_even_while_it_waits() -> None:
    closed = asyncio.Event()

    async def waits_for_ever() -> collections.abc.AsyncGenerator[int, None]:
        try:
            yield 1
            await asyncio.Event().wait()
            yield 2
        finally:
            closed.set()

    stopping = asyncio.Event()
    received: list[int] = []

    async def follow() -> None:
        async for item in sse.until_stopped(waits_for_ever(), stopping):
            received.append(item)
            stopping.set()  # the server stops while the stream waits for more

    await asyncio.wait_for(follow(), 10)

    assert received == [1]
    assert closed.is_set()


def test_an_unusable_last_event_id_starts_over() -> None:
    assert sse.resume_position("5") == 5
    assert sse.resume_position(" 2 ") == 2
    assert sse.resume_position("-1") == 0
    assert sse.resume_position("abc") == 0
    assert sse.resume_position(None) == 0
