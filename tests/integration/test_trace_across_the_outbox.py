"""One trace from a writer's transaction to the consumer's handler, across the outbox gap:
PostgreSQL holds the row and its writer's context, the relay publishes it to Kafka in a span
of that trace, and the consumer runs the handler in the trace the record's headers carry."""

from __future__ import annotations

import collections.abc
import typing
import uuid

import pydantic
import pytest
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import cqrs
from cqrs.events import EventHandler, EventMap
from cqrs.events.bootstrap import bootstrap
from cqrs.outbox.relay import OutboxRelay
from cqrs.telemetry import OUTBOX_PUBLISHED, TracingMiddleware
from cqrs.telemetry.consumer import CONSUMER_LAG, CONSUMER_RECORDS
from cqrs.testing import registered_outbox_events
from cqrs.testing.consumer import until
from cqrs.testing.telemetry import CapturedTelemetry, capture_telemetry, parent_id, span_id
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.consumer import subscribe_events
from cqrs_kafka.topics import ensure_topics
from cqrs_sqla.engine import create_engine
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import throwaway_postgres_database

PACKED = "trace_test_packed"
GROUP_OPTIONS: dict[str, typing.Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


class Packed(pydantic.BaseModel):
    order_id: str


OrderPacked = cqrs.NotificationEvent[Packed]
handled_in: list[trace.SpanContext] = []


class Ship(EventHandler[OrderPacked]):
    async def handle(self, event: OrderPacked) -> None:
        handled_in.append(trace.get_current_span().get_span_context())


@pytest.fixture(scope="module")
def postgres_url() -> collections.abc.Iterator[str]:
    with throwaway_postgres_database() as url:
        yield url


@pytest.fixture
async def engine(postgres_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def telemetry() -> CapturedTelemetry:
    captured = capture_telemetry()
    captured.clear()
    return captured


@pytest.fixture(autouse=True)
def packed_registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({PACKED: OrderPacked}):
        yield


def events(mapper: EventMap) -> None:
    mapper.bind(OrderPacked, Ship)


async def test_the_handler_runs_in_the_writers_trace_through_postgres_and_kafka(
    engine: AsyncEngine,
    kafka_bootstrap_servers: str,
    kafka_topic: str,
    telemetry: CapturedTelemetry,
) -> None:
    schema = Schema()
    await create_all(engine, schema)
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    with trace.get_tracer("test").start_as_current_span("place order") as writer:
        async with outbox as session:
            event = OrderPacked(
                event_name=PACKED, topic=kafka_topic, payload=Packed(order_id="o-1")
            )
            outbox.add(session, event, key="o-1")
            await outbox.commit(session)
    store = SqlAlchemyOutboxStore(engine, schema)
    async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as broker:
        assert await OutboxRelay(store, broker).run_once() == 1  # outside the writer's span
    await store.close()

    group = f"shipping-{uuid.uuid4().hex[:8]}"
    handled_in.clear()
    consumer = KafkaBroker(kafka_bootstrap_servers)
    mediator = bootstrap(events_mapper=events, middlewares=[TracingMiddleware()])
    subscribe_events(consumer, kafka_topic, group_id=group, mediator=mediator, **GROUP_OPTIONS)
    await consumer.start()
    try:
        await until(lambda: len(handled_in) == 1, "the handler")
        await until(lambda: bool(telemetry.spans("process ")), "the consumer's span to end")
        # The lag comes from the consumer's high watermark: one point, nothing left behind.
        partition = {
            "messaging.destination.name": kafka_topic,
            "messaging.destination.partition.id": "0",
            "messaging.consumer.group.name": group,
        }
        await until(lambda: telemetry.metric_values(CONSUMER_LAG, **partition) == [0], "the lag")
    finally:
        await consumer.stop()

    writer_context = writer.get_span_context()
    (write,) = telemetry.spans("outbox write ")
    (publish,) = telemetry.spans("publish ")
    (process,) = telemetry.spans("process ")
    (event_span,) = telemetry.spans("event ")
    (handle,) = telemetry.spans("handle ")
    # handler <- event mediator <- consumed record <- relay publish <- outbox write <- writer
    assert parent_id(handle) == span_id(event_span)
    assert parent_id(event_span) == span_id(process)
    assert parent_id(process) == span_id(publish)
    assert parent_id(publish) == span_id(write)
    assert parent_id(write) == writer_context.span_id
    assert handled_in[0].trace_id == writer_context.trace_id
    assert handled_in[0].span_id == span_id(handle)
    topic = {"messaging.destination.name": kafka_topic}
    assert telemetry.metric_value(OUTBOX_PUBLISHED, **topic) == 1
    assert (
        telemetry.metric_value(
            CONSUMER_RECORDS,
            **topic,
            **{"messaging.consumer.group.name": group, "cqrs.consumer.outcome": "handled"},
        )
        == 1
    )
