"""The whole producer path: a handler's transaction writes the outbox (cqrs-sqla), the relay
publishes it to Kafka (cqrs-kafka) in key order, with the writer's trace context."""

from __future__ import annotations

import collections
import collections.abc
import pathlib

import pydantic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import cqrs
from cqrs.outbox.relay import OutboxRelay
from cqrs.testing import registered_outbox_events
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.testing import json_value, read_records
from cqrs_kafka.topics import ensure_topics
from cqrs_sqla.engine import create_engine
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, create_all


class Charged(pydantic.BaseModel):
    order_id: str
    sequence: int


@pytest.fixture
async def engine(tmp_path: pathlib.Path) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
def charged_registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"charged": cqrs.NotificationEvent[Charged]}):
        yield


async def write_events(
    outbox: SqlAlchemyOutboxedEventRepository, topic: str, keys: list[str], per_key: int
) -> None:
    for sequence in range(per_key):
        async with outbox as session:
            for key in keys:
                event = cqrs.NotificationEvent[Charged](
                    event_name="charged",
                    topic=topic,
                    payload=Charged(order_id=key, sequence=sequence),
                )
                outbox.add(session, event, key=key)
            await outbox.commit(session)


async def test_the_relay_publishes_every_row_once_in_key_order(
    engine: AsyncEngine, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    schema = Schema()
    await create_all(engine, schema)
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 3})
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    keys = [f"order-{n}" for n in range(5)]
    await write_events(outbox, kafka_topic, keys, per_key=8)
    store = SqlAlchemyOutboxStore(engine, schema)

    async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as broker:
        relay = OutboxRelay(store, broker, batch_size=7)
        published = 0
        while (count := await relay.run_once()) > 0:
            published += count
    await store.close()

    assert published == 40
    records = await read_records(kafka_bootstrap_servers, kafka_topic, 40)
    by_key: dict[str, list[int]] = collections.defaultdict(list)
    for record in records:
        assert record.key is not None
        by_key[record.key.decode()].append(json_value(record)["payload"]["sequence"])
    assert by_key == {key: list(range(8)) for key in keys}
    assert len({dict(r.headers)["message_id"] for r in records}) == 40


async def test_the_trace_of_the_writing_transaction_continues_in_kafka(
    engine: AsyncEngine, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    schema = Schema()
    await create_all(engine, schema)
    outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine), schema=schema)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("place order") as span:
        await write_events(outbox, kafka_topic, ["order-1"], per_key=1)
        trace_id = format(span.get_span_context().trace_id, "032x")
    store = SqlAlchemyOutboxStore(engine, schema)

    # Published outside the span: the record must carry the writer's context.
    async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as broker:
        assert await OutboxRelay(store, broker).run_once() == 1
    await store.close()

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    traceparent = dict(record.headers)["traceparent"].decode()
    assert traceparent.split("-")[1] == trace_id
