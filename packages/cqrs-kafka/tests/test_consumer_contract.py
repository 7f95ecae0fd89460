"""The consumer contract (`cqrs.testing.consumer`) on Kafka: `subscribe_events` against a
local broker.

The broker runs with a schema registry, so that a topic can be made to refuse
records for real: while `<topic>.json` holds a schema our records do not
match, the broker refuses every produce to `<topic>`.
"""

from __future__ import annotations

import collections.abc
import contextlib
import json
import pathlib
import typing

import aiokafka
import pytest
from aiokafka.structs import TopicPartition
from faststream.kafka import KafkaBroker

from cqrs.consumer.record import Record
from cqrs.testing.consumer import ConsumerContract, ConsumerHarness, RunningConsumer, until
from cqrs_kafka.consumer import subscribe_events
from cqrs_kafka.dead_letter import KafkaDeadLetters
from cqrs_kafka.local import LocalKafkaBroker
from cqrs_kafka.testing import committed_offset, read_records
from cqrs_kafka.topics import ensure_topics

# Apache Kafka refuses sessions under 6 s; Tansu lets a group form in half the session.
GROUP_OPTIONS: dict[str, typing.Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
#: A schema no record of ours matches: a JSON object with a field we never write.
REFUSE_EVERYTHING = {"type": "object", "properties": {"value": {"required": ["never-written"]}}}


class KafkaConsumerHarness(ConsumerHarness):
    """`subscribe_events` on a broker whose schema registry is the directory `schemas`."""

    def __init__(self, bootstrap_servers: str, schemas: pathlib.Path) -> None:
        self.servers = bootstrap_servers
        self.schemas = schemas
        self.max_dead_letter_size = KafkaDeadLetters(KafkaBroker(bootstrap_servers)).max_size
        self._producer: aiokafka.AIOKafkaProducer | None = None

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def create_topic(self, topic: str, partitions: int) -> None:
        await ensure_topics(self.servers, {topic: partitions, f"{topic}.dlq": 1})

    async def produce(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: collections.abc.Sequence[tuple[str, bytes]] = (),
        partition: int = 0,
    ) -> None:
        send = typing.cast(
            "collections.abc.Callable[..., collections.abc.Awaitable[typing.Any]]",
            (await self._started()).send_and_wait,  # pyright: ignore[reportUnknownMemberType]
        )
        await send(topic, value, key=key, headers=list(headers), partition=partition)

    async def _started(self) -> aiokafka.AIOKafkaProducer:
        if self._producer is None:
            # Large enough for the records too large to be dead-lettered whole.
            self._producer = aiokafka.AIOKafkaProducer(
                bootstrap_servers=self.servers, max_request_size=16 * 1024 * 1024
            )
            await self._producer.start()
        return self._producer

    async def _partitions(self, topic: str) -> list[TopicPartition]:
        producer = await self._started()
        numbers: set[int] = await producer.partitions_for(topic)  # pyright: ignore[reportUnknownMemberType]
        return [TopicPartition(topic, number) for number in sorted(numbers)]

    @contextlib.asynccontextmanager
    async def consume(
        self, topic: str, *, group: str, stop_timeout: float, **pipeline: typing.Any
    ) -> collections.abc.AsyncGenerator[RunningConsumer, None]:
        broker = KafkaBroker(self.servers, graceful_timeout=stop_timeout)
        subscriber = subscribe_events(broker, topic, group_id=group, **GROUP_OPTIONS, **pipeline)
        await broker.start()
        try:
            partitions = set(await self._partitions(topic))

            def joined() -> bool:
                consumer = subscriber.consumer
                return consumer is not None and consumer.assignment() == partitions

            await until(joined, f"the consumer to hold {topic}'s partitions")
            yield RunningConsumer(subscriber.health, lambda: not subscriber.running)
        finally:
            await broker.stop()

    async def committed(self, group: str, topic: str, partition: int) -> int | None:
        return await committed_offset(self.servers, group, topic, partition)

    async def records(self, topic: str, count: int) -> list[Record]:
        return list(await read_records(self.servers, topic, count))

    async def count(self, topic: str) -> int:
        partitions = await self._partitions(topic)
        reader = aiokafka.AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None)
        await reader.start()
        try:
            ends = typing.cast(
                "dict[TopicPartition, int]",
                await reader.end_offsets(partitions),  # pyright: ignore[reportUnknownMemberType]
            )
            return sum(ends.values())
        finally:
            await reader.stop()

    @contextlib.asynccontextmanager
    async def refusing(self, topic: str) -> collections.abc.AsyncGenerator[None, None]:
        schema = self.schemas / f"{topic}.json"
        schema.write_text(json.dumps(REFUSE_EVERYTHING))
        try:
            yield
        finally:
            schema.unlink()


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("schemas")


@pytest.fixture(scope="module")
def kafka_with_schemas(schemas: pathlib.Path) -> collections.abc.Iterator[LocalKafkaBroker]:
    """A local broker of this module's own, validating records against `schemas`."""
    with LocalKafkaBroker(schema_registry=schemas) as broker:
        yield broker


class TestKafkaConsumer(ConsumerContract):
    @pytest.fixture
    async def harness(
        self, kafka_with_schemas: LocalKafkaBroker, schemas: pathlib.Path
    ) -> collections.abc.AsyncIterator[ConsumerHarness]:
        harness = KafkaConsumerHarness(kafka_with_schemas.bootstrap_servers, schemas)
        try:
            yield harness
        finally:
            await harness.close()
