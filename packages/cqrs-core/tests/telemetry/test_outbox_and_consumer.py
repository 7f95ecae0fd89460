"""Outbox, relay and consumer spans: one trace from the writer to the handler, and their counts."""

from __future__ import annotations

import asyncio
import collections.abc

import pydantic
import pytest
from opentelemetry import trace

import cqrs
from cqrs.consumer import EventConsumer, EventPipeline
from cqrs.consumer.memory import MemoryBroker
from cqrs.consumer.retry import ConsumerRetry
from cqrs.container.di import DIContainer
from cqrs.events import EventMap, EventMediator
from cqrs.inbox import MemoryInbox
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import MESSAGE_ID_HEADER, Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.outbox.relay import OutboxRelay
from cqrs.telemetry import (
    OUTBOX_DEAD,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_PUBLISHED,
    OutboxGauges,
)
from cqrs.telemetry.consumer import CONSUMER_LAG, CONSUMER_RECORDS
from cqrs.testing import FailingBroker, registered_outbox_events
from cqrs.testing.consumer import until
from cqrs.testing.telemetry import CapturedTelemetry, parent_id, span_id
from cqrs.testing.telemetry import trace_id as trace_of


class Shipped(pydantic.BaseModel):
    order_id: str


ShippedEvent = cqrs.NotificationEvent[Shipped]
seen: list[str] = []


class Ship(cqrs.EventHandler[ShippedEvent]):
    async def handle(self, event: ShippedEvent) -> None:
        if event.payload.order_id == "poison":
            raise RuntimeError("cannot ship")
        seen.append(trace.format_trace_id(trace.get_current_span().get_span_context().trace_id))


@pytest.fixture(autouse=True)
def shipped_registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"shipped": ShippedEvent}):
        yield


def shipping_events() -> EventMap:
    events = EventMap()
    events.bind(ShippedEvent, Ship)
    return events


async def write(outbox: MemoryOutbox, topic: str, order_id: str) -> None:
    async with outbox as session:
        event = ShippedEvent(event_name="shipped", topic=topic, payload=Shipped(order_id=order_id))
        outbox.add(session, event, key=order_id)
        await outbox.commit(session)


def consumed(broker: MemoryBroker, message: Message) -> None:
    """Put what the relay published on the memory broker, as a transport would carry it."""
    headers = [(MESSAGE_ID_HEADER, str(message.message_id).encode())]
    headers += [(name, value.encode()) for name, value in message.headers.items()]
    broker.append(
        message.topic,
        cqrs.message_brokers.protocol.payload_json(message.payload),
        key=None if message.key is None else message.key.encode(),
        headers=headers,
    )


async def test_a_trace_goes_from_the_writer_through_the_relay_to_the_handler(
    telemetry: CapturedTelemetry,
) -> None:
    outbox, published = MemoryOutbox(), InMemoryMessageBroker()
    with trace.get_tracer("test").start_as_current_span("place order") as writer:
        await write(outbox, "shipping", "o-1")
    trace_id = writer.get_span_context().trace_id

    assert await OutboxRelay(outbox, published).run_once() == 1
    broker = MemoryBroker()
    for message in published.messages:
        consumed(broker, message)
    seen.clear()
    pipeline = EventPipeline(
        mediator=EventMediator(shipping_events(), DIContainer()),
        dead_letters=broker,
        consumer_name="shipping-worker",
    )
    async with EventConsumer(broker.transport(["shipping"], "shipping-worker"), pipeline):
        await broker.wait_for_position("shipping-worker", "shipping", 0, 1)

    (write_span,) = telemetry.spans("outbox write ")
    (batch,) = telemetry.spans("outbox relay")
    (publish,) = telemetry.spans("publish ")
    (process,) = telemetry.spans("process ")
    (handled,) = telemetry.spans("handle ")
    assert parent_id(write_span) == writer.get_span_context().span_id
    assert parent_id(publish) == span_id(write_span)
    assert publish.kind is trace.SpanKind.PRODUCER
    assert [link.context.span_id for link in publish.links] == [span_id(batch)]
    assert parent_id(process) == span_id(publish)
    assert process.kind is trace.SpanKind.CONSUMER
    assert parent_id(handled) == span_id(process)
    for span in (write_span, publish, process, handled):
        assert trace_of(span) == trace_id
    assert seen == [trace.format_trace_id(trace_id)]
    assert process.attributes is not None
    assert process.attributes["cqrs.consumer.outcome"] == "handled"


async def test_the_relay_counts_published_and_failed_rows_per_topic(
    telemetry: CapturedTelemetry,
) -> None:
    published, failing = MemoryOutbox(), MemoryOutbox()
    with trace.get_tracer("test").start_as_current_span("place orders"):
        for order_id in ("o-1", "o-2"):
            await write(published, "relay-published", order_id)
            await write(failing, "relay-failed", order_id)

    assert await OutboxRelay(published, InMemoryMessageBroker()).run_once() == 2
    assert await OutboxRelay(failing, FailingBroker(failure_rate=1.0)).run_once() == 0

    def count(name: str, topic: str) -> float:
        return telemetry.metric_value(name, **{"messaging.destination.name": topic})

    assert count(OUTBOX_PUBLISHED, "relay-published") == 2
    assert count(OUTBOX_FAILED, "relay-failed") == 2
    assert count(OUTBOX_PUBLISHED, "relay-failed") == 0
    failed_spans = telemetry.spans("publish relay-failed")
    assert [span.status.status_code for span in failed_spans] == [trace.StatusCode.ERROR] * 2
    assert (
        telemetry.spans("publish relay-published")[0].status.status_code is trace.StatusCode.UNSET
    )
    batch = telemetry.spans("outbox relay")[0]
    assert batch.attributes is not None
    assert batch.attributes["cqrs.outbox.batch_size"] == 2


async def test_outbox_gauges_report_the_admin_stats_per_topic(
    telemetry: CapturedTelemetry,
) -> None:
    outbox = MemoryOutbox()
    for order_id in ("o-1", "o-2", "o-3"):
        await write(outbox, "gauged", order_id)

    gauges = OutboxGauges(outbox)  # reported while it lives
    await gauges.refresh()

    assert telemetry.metric_value(OUTBOX_PENDING, **{"messaging.destination.name": "gauged"}) == 3
    assert telemetry.metric_value(OUTBOX_DEAD, **{"messaging.destination.name": "gauged"}) == 0


async def test_the_consumer_counts_records_by_outcome(telemetry: CapturedTelemetry) -> None:
    broker, inbox = MemoryBroker(), MemoryInbox()
    shipped, poison = (
        Message.from_event(
            ShippedEvent(event_name="shipped", topic="counted", payload=Shipped(order_id=order_id)),
            key="k",
        )
        for order_id in ("o-1", "poison")
    )
    for message in (shipped, shipped, poison):  # the first one delivered twice
        consumed(broker, message)
    pipeline = EventPipeline(
        mediator=EventMediator(shipping_events(), DIContainer()),
        dead_letters=broker,
        consumer_name="counting-worker",
        transaction=lambda: inbox.session().begin(),
        inbox=inbox,
        retry=ConsumerRetry(attempts=2, initial_delay=0.001),
    )
    group = {"messaging.consumer.group.name": "counting-worker"}

    async with EventConsumer(broker.transport(["counted"], "counting-worker"), pipeline):
        await asyncio.wait_for(broker.wait_for_position("counting-worker", "counted", 0, 3), 10)

    def count(outcome: str) -> float:
        return telemetry.metric_value(
            CONSUMER_RECORDS, **group, **{"cqrs.consumer.outcome": outcome}
        )

    outcomes = ("handled", "duplicate", "retried", "dead_lettered")
    assert [count(outcome) for outcome in outcomes] == [1, 1, 1, 1]
    dead = [
        span
        for span in telemetry.spans("process counted")
        if span.status.status_code is trace.StatusCode.ERROR
    ]
    assert len(dead) == 1


async def test_the_consumer_reports_its_lag_per_partition(telemetry: CapturedTelemetry) -> None:
    broker = MemoryBroker()
    for order_id in ("o-1", "o-2", "o-3"):
        event = ShippedEvent(
            event_name="shipped", topic="lagging", payload=Shipped(order_id=order_id)
        )
        consumed(broker, Message.from_event(event, key=order_id))
    gate = asyncio.Event()

    class Held(cqrs.EventHandler[ShippedEvent]):
        async def handle(self, event: ShippedEvent) -> None:
            if event.payload.order_id != "o-1":
                await gate.wait()

    events = EventMap()
    events.bind(ShippedEvent, Held)
    pipeline = EventPipeline(
        mediator=EventMediator(events, DIContainer()),
        dead_letters=broker,
        consumer_name="lagging-worker",
    )
    partition = {
        "messaging.consumer.group.name": "lagging-worker",
        "messaging.destination.name": "lagging",
        "messaging.destination.partition.id": "0",
    }

    def lag() -> float:
        return telemetry.metric_value(CONSUMER_LAG, **partition)

    consumer = EventConsumer(broker.transport(["lagging"], "lagging-worker"), pipeline)
    async with consumer:
        await until(lambda: bool(consumer.lag()), "the first record to settle")
        assert lag() == 2  # o-1 settled, o-2 held, o-3 waiting
        gate.set()
        await until(lambda: lag() == 0, "the lag to drop to 0")


async def test_a_row_written_outside_any_trace_goes_out_as_stored(
    telemetry: CapturedTelemetry,
) -> None:
    outbox, broker = MemoryOutbox(), InMemoryMessageBroker()
    await write(outbox, "untraced", "o-1")
    (row,) = outbox.rows()

    assert await OutboxRelay(outbox, broker).run_once() == 1

    assert broker.messages == [row.message]
    assert telemetry.spans("publish ") == []
    assert (
        telemetry.metric_value(OUTBOX_PUBLISHED, **{"messaging.destination.name": "untraced"}) == 1
    )
