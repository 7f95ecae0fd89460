"""One trace from a command to the handler of the event it published, through the outbox.

A shop's `PlaceOrder` command stages an `order_placed` notification in the
outbox; the relay publishes it; a consumer pipeline hands it to the handler
that books the delivery. With `cqrs-core[otel]` installed and an
OpenTelemetry SDK configured, every hop is a span of the same trace:

    send PlaceOrder                     (TracingMiddleware on the mediator)
      outbox write order_placed         (the row keeps this span's context)
        publish orders                  (the relay, a child of the writer's context)
          process orders                (the consumer, from the record's headers)
            event order_placed          (TracingMiddleware on the event mediator)
              handle order_placed       (the event handler)

and the relay, the consumer and the mediators count and time what they do
(`cqrs.outbox.published`, `cqrs.consumer.records`, `cqrs.request.duration`,
...). Here the SDK is `cqrs.testing.telemetry.capture_telemetry()`, which
keeps spans and metrics in memory; a service configures exporters instead
(OTLP, Prometheus; the reference services read the standard `OTEL_*`
variables through `servicekit.telemetry`).

Run: `python examples/telemetry.py`
"""

from __future__ import annotations

import asyncio
import typing

import pydantic
from opentelemetry.sdk.trace import ReadableSpan

import cqrs
from cqrs.consumer import EventConsumer, EventPipeline, MemoryBroker
from cqrs.events import bootstrap as events_bootstrap
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.relay import OutboxRelay
from cqrs.requests import bootstrap
from cqrs.telemetry import OUTBOX_PUBLISHED, TracingMiddleware
from cqrs.testing.telemetry import capture_telemetry, parent_id, span_id

OUTBOX = MemoryOutbox()
BOOKED: list[str] = []


class OrderPlaced(pydantic.BaseModel):
    order_id: str


Placed = cqrs.NotificationEvent[OrderPlaced]
cqrs.OutboxedEventMap.register("order_placed", Placed)


class PlaceOrder(cqrs.Request[str]):
    order_id: str


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, str]):
    async def handle(self, request: PlaceOrder) -> str:
        async with OUTBOX as session:
            event = Placed(
                event_name="order_placed",
                topic="orders",
                payload=OrderPlaced(order_id=request.order_id),
            )
            OUTBOX.add(session, event, key=request.order_id)
            await OUTBOX.commit(session)
        return request.order_id


class BookDelivery(cqrs.EventHandler[Placed]):
    async def handle(self, event: Placed) -> None:
        BOOKED.append(event.payload.order_id)


def tree(spans: typing.Sequence[ReadableSpan]) -> list[str]:
    """The spans' names, indented under their parents, roots first."""
    children: dict[int | None, list[ReadableSpan]] = {}
    known = {span_id(span) for span in spans}
    for span in spans:
        parent = parent_id(span)
        children.setdefault(parent if parent in known else None, []).append(span)

    def lines(parent: int | None, depth: int) -> list[str]:
        found = sorted(children.get(parent, []), key=lambda span: span.start_time or 0)
        return [
            line
            for span in found
            for line in ["  " * depth + span.name, *lines(span_id(span), depth + 1)]
        ]

    return lines(None, 0)


async def main() -> dict[str, typing.Any]:
    telemetry = capture_telemetry()  # a process's SDK is installed once
    telemetry.clear()
    BOOKED.clear()
    published_before = telemetry.metric_value(
        OUTBOX_PUBLISHED, **{"messaging.destination.name": "orders"}
    )

    mediator = bootstrap.bootstrap(
        commands_mapper=lambda requests: requests.bind(PlaceOrder, PlaceOrderHandler),
        middlewares=[TracingMiddleware()],
    )
    await mediator.send(PlaceOrder(order_id="o-42"))

    broker = MemoryBroker()
    await OutboxRelay(OUTBOX, broker).run_once()
    pipeline = EventPipeline(
        mediator=events_bootstrap.bootstrap(
            events_mapper=lambda events: events.bind(Placed, BookDelivery),
            middlewares=[TracingMiddleware()],
        ),
        dead_letters=broker,
        consumer_name="delivery",
    )
    async with EventConsumer(broker.transport(["orders"], group="delivery"), pipeline):
        await broker.wait_for_position("delivery", "orders", 0, 1)

    spans = telemetry.spans()
    lines = tree(spans)
    print("\n".join(lines))
    return {
        "booked": list(BOOKED),
        "tree": lines,
        "trace_ids": {span.context.trace_id for span in spans if span.context is not None},
        "published": telemetry.metric_value(
            OUTBOX_PUBLISHED, **{"messaging.destination.name": "orders"}
        )
        - published_before,
    }


if __name__ == "__main__":
    asyncio.run(main())
