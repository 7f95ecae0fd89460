"""pytest fixtures for code that talks to Kafka, on a local broker started once per run.

Enable them in a `conftest.py`:

```
pytest_plugins = ["cqrs_kafka.testing"]

async def test_publish(kafka_bootstrap_servers: str) -> None:
    ...
```

`kafka_bootstrap_servers` is `$CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS` when set (an
external Kafka), else the address of `local_kafka`, a `LocalKafkaBroker`
(needs `cqrs-kafka[local]`). `kafka_topic` makes a fresh topic name per test,
`read_records` reads what a test published back from the topic, `json_value`
decodes a record's value, and `committed_offset` tells how far a consumer
group has committed.
"""

from __future__ import annotations

import asyncio
import collections.abc
import json
import os
import typing
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from cqrs_kafka.local import LocalKafkaBroker

__all__ = (
    "BOOTSTRAP_ENV",
    "local_kafka",
    "kafka_bootstrap_servers",
    "kafka_topic",
    "read_records",
    "json_value",
    "committed_offset",
)

Record: typing.TypeAlias = ConsumerRecord[bytes, bytes]

#: Environment variable naming an external broker for the tests.
BOOTSTRAP_ENV = "CQRS_TEST_KAFKA_BOOTSTRAP_SERVERS"


@pytest.fixture(scope="session")
def local_kafka() -> collections.abc.Iterator[LocalKafkaBroker]:
    """A local broker on a free port, for the whole test session."""
    with LocalKafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """Where the tests' Kafka is: the external one, else the local broker."""
    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        return external
    broker: LocalKafkaBroker = request.getfixturevalue("local_kafka")
    return broker.bootstrap_servers


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the topic itself is not created)."""
    return f"test.{request.node.name[:40]}.{uuid.uuid4().hex[:8]}".replace("[", "-").replace(
        "]", ""
    )


async def read_records(
    bootstrap_servers: str, topic: str, count: int, timeout: float = 30.0
) -> list[Record]:
    """The first `count` records of `topic`, from all partitions, from the start.

    Raises `AssertionError` when fewer arrive within `timeout` seconds. Records
    of one partition come in their order; partitions interleave.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Record] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{len(records)} of {count} records arrived on {topic} in {timeout}s"
                )
            getmany = typing.cast(
                "typing.Callable[..., typing.Awaitable[dict[typing.Any, list[Record]]]]",
                consumer.getmany,  # pyright: ignore[reportUnknownMemberType]
            )
            batches = await getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records[:count]


def json_value(record: Record) -> typing.Any:
    """The record's value decoded from JSON; `AssertionError` for a record without one.

    >>> record = ConsumerRecord("orders", 0, 7, 0, 0, None, b'{"order_id": "o1"}', None, 0, 18, [])
    >>> json_value(record)
    {'order_id': 'o1'}
    """
    assert record.value is not None, f"no value in {record.topic} at offset {record.offset}"
    return json.loads(record.value)


async def committed_offset(
    bootstrap_servers: str, group: str, topic: str, partition: int = 0
) -> int | None:
    """The offset `group` has committed on `topic`'s `partition` (None if none yet),
    read without joining the group."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        committed = typing.cast(
            "typing.Callable[[TopicPartition], typing.Awaitable[int | None]]",
            reader.committed,  # pyright: ignore[reportUnknownMemberType]
        )
        return await committed(TopicPartition(topic, partition))
    finally:
        await reader.stop()
