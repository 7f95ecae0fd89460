"""python-cqrs `examples/kafka_outboxed_event_producing.py` and the README's "Producing
Events from Outbox to Kafka": a producer loop publishes the SQL outbox to Kafka, with the
README's import paths, on SQLite and the local Kafka-protocol broker."""

from __future__ import annotations

import collections.abc
import pathlib

import pydantic
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import cqrs
from cqrs.adapters import kafka as kafka_adapters
from cqrs.compressors import zlib
from cqrs.message_brokers import kafka
from cqrs.saga.storage.sqlalchemy import Base
from cqrs.testing import registered_outbox_events
from cqrs_kafka.testing import json_value, read_records


class UserJoinedPayload(pydantic.BaseModel):
    user_id: str


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"UserJoined": cqrs.NotificationEvent[UserJoinedPayload]}):
        yield


@pytest.fixture
async def engine(tmp_path: pathlib.Path) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)  # the outbox table included
    yield engine
    await engine.dispose()


async def test_the_producer_loop_publishes_the_outbox_to_kafka(
    engine: AsyncEngine, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    session_factory = async_sessionmaker(engine)
    repository = cqrs.SqlAlchemyOutboxedEventRepository(session_factory, zlib.ZlibCompressor())
    async with repository as session:
        for user_id in ("u1", "u2", "u3"):
            repository.add(
                session,
                cqrs.NotificationEvent[UserJoinedPayload](
                    event_name="UserJoined",
                    topic=kafka_topic,
                    payload=UserJoinedPayload(user_id=user_id),
                ),
            )
        await repository.commit(session)
    broker = kafka.KafkaMessageBroker(
        producer=kafka_adapters.kafka_producer_factory(dsn=kafka_bootstrap_servers),
        aiokafka_log_level="ERROR",
    )
    producer = cqrs.EventProducer(broker, repository)

    async with broker:
        async for messages in producer.event_batch_generator():
            for message in messages:
                await producer.send_message(message)
            await producer.repository.commit()
            break
    await repository.store.close()

    records = await read_records(kafka_bootstrap_servers, kafka_topic, 3)
    # Unkeyed rows may land on any partition: compare the set, not the order.
    assert sorted(json_value(record)["payload"]["user_id"] for record in records) == [
        "u1",
        "u2",
        "u3",
    ]
    assert isinstance(broker.producer, kafka_adapters.KafkaProducer)
