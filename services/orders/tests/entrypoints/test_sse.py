"""The event stream's pacing and ending, on orders read from a scripted sequence."""

from __future__ import annotations

import collections.abc
import datetime
import decimal
import json
import typing

from cqrs.saga.models import SagaStepAction
from orders.application.get_order import HistoryEntry, OrderDetails
from orders.domain.order import OrderStatus, RejectionReason
from orders.entrypoints import sse

AT = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
STEPS = [
    ("OpenOrder", SagaStepAction.ACT, "completed"),
    ("ReserveStock", SagaStepAction.ACT, "started"),
    ("ReserveStock", SagaStepAction.ACT, "completed"),
    ("ChargePayment", SagaStepAction.ACT, "failed"),
    ("ReserveStock", SagaStepAction.COMPENSATE, "completed"),
    ("OpenOrder", SagaStepAction.COMPENSATE, "completed"),
]


def details(
    steps: int,
    *,
    status: OrderStatus = OrderStatus.PENDING,
    finished: bool = False,
) -> OrderDetails:
    return OrderDetails(
        order_id="o-1",
        customer_id="c-1",
        status=status,
        reason=RejectionReason.PAYMENT_DECLINED if status is OrderStatus.REJECTED else None,
        items=[],
        total=decimal.Decimal("1.00"),
        history=[
            HistoryEntry(step=step, action=action, status=result, at=AT)
            for step, action, result in STEPS[:steps]
        ],
        finished=finished,
    )


class Reads:
    """Hands out the given orders one read at a time, the last one forever."""

    def __init__(self, *orders: OrderDetails) -> None:
        self.orders = list(orders)

    async def __call__(self) -> OrderDetails:
        return self.orders.pop(0) if len(self.orders) > 1 else self.orders[0]


async def collect(stream: collections.abc.AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in stream]


def stream(
    read: typing.Callable[[], typing.Awaitable[OrderDetails]],
    first: OrderDetails,
    after: int = 0,
    *,
    keepalive: float = 60.0,
    stopping: typing.Callable[[], bool] = lambda: False,
) -> collections.abc.AsyncIterator[str]:
    return sse.order_events(
        read, first, after, poll_interval=0.001, keepalive=keepalive, stopping=stopping
    )


def parsed(chunk: str) -> tuple[int, str, dict[str, typing.Any]]:
    lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
    return int(lines["id"]), lines["event"], json.loads(lines["data"])


async def test_each_new_transition_is_sent_once_and_the_last_as_status() -> None:
    read = Reads(
        details(2),
        details(3),
        details(6, status=OrderStatus.REJECTED, finished=True),
    )

    chunks = await collect(stream(read, details(1)))

    events = [parsed(chunk) for chunk in chunks]
    assert [(event_id, name) for event_id, name, _ in events] == [
        (1, "transition"),
        (2, "transition"),
        (3, "transition"),
        (4, "transition"),
        (5, "transition"),
        (6, "status"),
    ]
    _, _, last = events[-1]
    assert last == {
        "order_id": "o-1",
        "step": "OpenOrder",
        "action": "compensate",
        "status": "completed",
        "at": AT.isoformat(),
        "order_status": "rejected",
        "reason": "payment_declined",
    }


async def test_the_latest_transition_of_a_decided_order_waits_for_the_end() -> None:
    # The order is rejected and its last compensation logged, but the saga has not
    # marked itself failed yet: that transition must still come out as the status.
    read = Reads(details(6, status=OrderStatus.REJECTED, finished=True))

    chunks = await collect(stream(read, details(6, status=OrderStatus.REJECTED)))

    assert [parsed(chunk)[:2] for chunk in chunks][-2:] == [(5, "transition"), (6, "status")]


async def test_an_order_read_ahead_of_its_log_sends_nothing_twice() -> None:
    # The order is read after the step log: it may already be decided while the log
    # read before it still shows the reserve step waiting.
    read = Reads(
        details(2, status=OrderStatus.REJECTED),
        details(6, status=OrderStatus.REJECTED, finished=True),
    )

    chunks = await collect(stream(read, details(2)))

    assert [parsed(chunk)[0] for chunk in chunks] == [1, 2, 3, 4, 5, 6]


async def test_a_resumed_stream_starts_after_the_given_position() -> None:
    read = Reads(details(6, status=OrderStatus.REJECTED, finished=True))

    chunks = await collect(stream(read, details(3), after=3))

    assert [parsed(chunk)[0] for chunk in chunks] == [4, 5, 6]


async def test_a_quiet_stream_sends_keep_alive_comments() -> None:
    read = Reads(details(1), details(1), details(1), details(2, finished=True))

    chunks = await collect(stream(read, details(1), keepalive=0.0))

    assert sse.KEEPALIVE in chunks
    assert parsed(chunks[-1])[:2] == (2, "status")


async def test_the_stream_ends_when_the_server_stops() -> None:
    read = Reads(details(2))
    stop_after = iter([False, False, True])

    chunks = await collect(stream(read, details(1), stopping=lambda: next(stop_after)))

    assert [parsed(chunk)[:2] for chunk in chunks] == [(1, "transition"), (2, "transition")]


async def test_the_stream_ends_when_a_read_fails() -> None:
    async def failing() -> OrderDetails:
        raise ConnectionError("database gone")

    chunks = await collect(stream(failing, details(2)))

    assert [parsed(chunk)[0] for chunk in chunks] == [1, 2]


def test_an_unusable_last_event_id_starts_over() -> None:
    assert sse.resume_position("5") == 5
    assert sse.resume_position(" 2 ") == 2
    assert sse.resume_position("-1") == 0
    assert sse.resume_position("abc") == 0
    assert sse.resume_position(None) == 0
