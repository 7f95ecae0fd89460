"""python-cqrs `examples/streaming_handler_parallel_events.py`: a streaming handler whose
events are handled in parallel, up to a limit, after each partial result."""

from __future__ import annotations

import asyncio
import datetime
import typing

import di
import pydantic

import cqrs
from cqrs.message_brokers import devnull
from cqrs.requests import bootstrap

GUARD_SECONDS = 5  # turns a hang into a failure; never used to wait for work


class ProcessOrdersCommand(cqrs.Request):
    order_ids: list[str] = pydantic.Field(description="orders to process")


class OrderProcessedResult(cqrs.Response):
    order_id: str
    processed_at: datetime.datetime


class OrderProcessedEvent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    order_id: str


class OrderAuditedEvent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    order_id: str


class Board:
    """What the handlers did, and how many ran at once at most."""

    def __init__(self) -> None:
        self.emails: list[str] = []
        self.audit: list[str] = []
        self.running = 0
        self.peak = 0
        self.results_seen_when_handled: list[int] = []
        self.results = 0


board = Board()


class ProcessOrdersCommandHandler(
    cqrs.StreamingRequestHandler[ProcessOrdersCommand, OrderProcessedResult]
):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: ProcessOrdersCommand
    ) -> typing.AsyncIterator[OrderProcessedResult]:
        for order_id in request.order_ids:
            self._events.append(OrderProcessedEvent(order_id=order_id))
            self._events.append(OrderAuditedEvent(order_id=order_id))
            yield OrderProcessedResult(
                order_id=order_id, processed_at=datetime.datetime.now(datetime.timezone.utc)
            )


class Tracked:
    """Counts the handlers running at once; each lets the others start before it ends."""

    async def track(self) -> None:
        board.running += 1
        board.peak = max(board.peak, board.running)
        await asyncio.sleep(0)
        board.running -= 1


class SendEmail(Tracked, cqrs.EventHandler[OrderProcessedEvent]):
    async def handle(self, event: OrderProcessedEvent) -> None:
        await self.track()
        board.emails.append(event.order_id)
        board.results_seen_when_handled.append(board.results)


class WriteAudit(Tracked, cqrs.EventHandler[OrderAuditedEvent]):
    async def handle(self, event: OrderAuditedEvent) -> None:
        await self.track()
        board.audit.append(event.order_id)


class NotifyWarehouse(Tracked, cqrs.EventHandler[OrderProcessedEvent]):
    async def handle(self, event: OrderProcessedEvent) -> None:
        await self.track()


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ProcessOrdersCommand, ProcessOrdersCommandHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(OrderProcessedEvent, SendEmail)
    mapper.bind(OrderProcessedEvent, NotifyWarehouse)
    mapper.bind(OrderAuditedEvent, WriteAudit)


async def test_each_result_comes_after_its_events_were_handled_in_parallel() -> None:
    global board
    board = Board()
    mediator = bootstrap.bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events_mapper,
        message_broker=devnull.DevnullMessageBroker(),
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )
    order_ids = ["o1", "o2", "o3"]

    async def consume() -> list[str]:
        received: list[str] = []
        async for result in mediator.stream(ProcessOrdersCommand(order_ids=order_ids)):
            assert isinstance(result, OrderProcessedResult)
            received.append(result.order_id)
            board.results += 1
        return received

    assert await asyncio.wait_for(consume(), GUARD_SECONDS) == order_ids
    # python-cqrs ran them as fire-and-forget tasks and its example slept before
    # checking; here every event of a result is handled before the result is yielded.
    assert board.emails == order_ids
    assert board.audit == order_ids
    assert board.results_seen_when_handled == [0, 1, 2]
    assert board.peak == 2
