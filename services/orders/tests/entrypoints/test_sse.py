"""The event stream's framing and its end when the server stops."""

from __future__ import annotations

import asyncio
import collections.abc
import datetime
import json

from starlette.types import Message

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

    assert middle.startswith(b"event: transition\ndata: {")
    assert middle.endswith(b"}\nid: 3\n\n")
    name, data, event_id, blank, after = end.decode().split("\n")
    assert (name, event_id, blank, after) == ("event: status", "id: 6", "", "")
    assert json.loads(data.removeprefix("data: ")) == {
        "order_id": "o-1",
        "step": "OpenOrder",
        "action": "compensate",
        "status": "completed",
        "at": "2024-01-01T00:00:00Z",
        "order_status": "rejected",
        "reason": "payment_declined",
    }


class Exchange:
    """One request's ASGI side: what the response sent, and a disconnect to send it."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.wrote = asyncio.Event()
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.wrote.set()

    def bodies(self) -> list[bytes]:
        return [message["body"] for message in self.sent if message["type"] == "http.response.body"]

    async def written(self, count: int) -> None:
        """Returns once `count` bodies were written (fails after 10 s)."""
        await asyncio.wait_for(self._bodies(count), 10)

    async def _bodies(self, count: int) -> None:
        while len(self.bodies()) < count:
            self.wrote.clear()
            await self.wrote.wait()


async def serve(response: sse.EventStreamResponse, exchange: Exchange) -> None:
    await response({"type": "http", "method": "GET"}, exchange.receive, exchange.send)


async def test_each_transition_is_one_write_and_the_stream_ends_after_the_last() -> None:
    async def transitions() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        yield transition(1, last=False)
        yield transition(2, last=True)

    exchange = Exchange()
    await asyncio.wait_for(
        serve(sse.EventStreamResponse(transitions(), asyncio.Event()), exchange), 10
    )

    start = exchange.sent[0]
    assert (start["type"], start["status"]) == ("http.response.start", 200)
    assert {
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    } <= set(start["headers"])
    assert exchange.bodies() == [
        sse.event_of(transition(1, last=False)),
        sse.event_of(transition(2, last=True)),
        b"",
    ]
    assert exchange.sent[-1]["more_body"] is False


async def test_the_stream_ends_when_the_server_stops_even_while_it_waits() -> None:
    closed = asyncio.Event()

    async def waits_for_ever() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        try:
            yield transition(1, last=False)
            await asyncio.Event().wait()
            yield transition(2, last=True)
        finally:
            closed.set()

    stopping, exchange = asyncio.Event(), Exchange()
    served = asyncio.ensure_future(
        serve(sse.EventStreamResponse(waits_for_ever(), stopping), exchange)
    )
    await exchange.written(1)
    stopping.set()  # the server stops while the stream waits for more
    await asyncio.wait_for(served, 10)

    assert exchange.bodies() == [sse.event_of(transition(1, last=False)), b""]
    assert closed.is_set()


async def test_a_client_that_leaves_closes_the_query_at_once() -> None:
    closed = asyncio.Event()

    async def waits_for_ever() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        try:
            yield transition(1, last=False)
            await asyncio.Event().wait()
        finally:
            closed.set()

    exchange = Exchange()
    served = asyncio.ensure_future(
        serve(sse.EventStreamResponse(waits_for_ever(), asyncio.Event()), exchange)
    )
    await exchange.written(1)
    exchange.gone.set()
    await asyncio.wait_for(served, 10)

    assert closed.is_set()
    assert exchange.bodies() == [sse.event_of(transition(1, last=False))]  # no end to nobody


async def test_an_idle_stream_pings_and_goes_on_after() -> None:
    pinged = asyncio.Event()
    exchange = Exchange()

    async def quiet_then_last() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        yield transition(1, last=False)
        while sse.PING not in exchange.bodies():  # the test's wait_for bounds it
            exchange.wrote.clear()
            await exchange.wrote.wait()
        pinged.set()
        yield transition(2, last=True)

    response = sse.EventStreamResponse(quiet_then_last(), asyncio.Event(), ping_seconds=0.01)
    await asyncio.wait_for(serve(response, exchange), 10)

    bodies = exchange.bodies()
    assert pinged.is_set()
    assert bodies[0] == sse.event_of(transition(1, last=False))
    assert set(bodies[1:-2]) == {sse.PING}
    assert bodies[-2:] == [sse.event_of(transition(2, last=True)), b""]


async def test_a_slow_client_holds_the_query_at_its_next_event() -> None:
    yielded: list[int] = []
    release = asyncio.Event()

    async def many() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        for position in range(1, 101):
            yielded.append(position)
            yield transition(position, last=position == 100)

    class Slow(Exchange):
        async def send(self, message: Message) -> None:
            await super().send(message)
            if message["type"] == "http.response.body" and len(self.bodies()) == 2:
                await release.wait()  # the client stops reading after two events

    exchange = Slow()
    served = asyncio.ensure_future(
        serve(sse.EventStreamResponse(many(), asyncio.Event()), exchange)
    )
    await exchange.written(2)
    for _ in range(20):
        await asyncio.sleep(0)  # give a buffering sender the turns to read ahead

    assert yielded == [1, 2]  # nothing read ahead of what the client takes
    release.set()
    await asyncio.wait_for(served, 10)
    assert len(exchange.bodies()) == 101


def test_an_unusable_last_event_id_starts_over() -> None:
    assert sse.resume_position("5") == 5
    assert sse.resume_position(" 2 ") == 2
    assert sse.resume_position("-1") == 0
    assert sse.resume_position("abc") == 0
    assert sse.resume_position(None) == 0
