"""The in-memory transport: partitions, size limits, refusals, flow control, positions."""

from __future__ import annotations

import asyncio

import pytest

from cqrs.consumer.dead_letter import OMITTED_HEADER, DeadLetter
from cqrs.consumer.memory import MemoryBroker, MemoryRecord
from cqrs.consumer.record import Partition, text_headers
from cqrs.exceptions import ConfigurationError, RecordRefusedError
from cqrs.message_brokers.protocol import (
    EVENT_NAME_HEADER,
    MESSAGE_ID_HEADER,
    Message,
    MessageBroker,
)


def test_records_of_one_key_share_a_partition_and_offsets_count_up() -> None:
    broker = MemoryBroker(partitions=4)

    first = broker.append("orders", b"1", key=b"order-7")
    second = broker.append("orders", b"2", key=b"order-7")

    assert first.partition == second.partition
    assert (first.offset, second.offset) == (0, 1)
    assert broker.append("orders", b"3").partition == 0


def test_a_topic_keeps_its_partition_count() -> None:
    broker = MemoryBroker()
    broker.create_topic("orders", 3)

    broker.create_topic("orders", 3)  # the same count: nothing to do
    with pytest.raises(ConfigurationError, match="3 partitions already"):
        broker.create_topic("orders", 2)


def test_records_over_the_topics_limit_and_records_of_a_refusing_topic_are_refused() -> None:
    broker = MemoryBroker(max_record_size=100)
    broker.create_topic("small", 1, max_record_size=10)

    broker.append("orders", b"x" * 90)
    with pytest.raises(RecordRefusedError, match="limit of 10"):
        broker.append("small", b"x" * 11)
    broker.refuse("orders")
    with pytest.raises(RecordRefusedError, match="refuses records"):
        broker.append("orders", b"x")
    broker.refuse("orders", refusing=False)
    broker.append("orders", b"x")

    assert len(broker.records("orders")) == 2


async def test_a_dead_letter_is_published_in_the_fullest_shape_its_topic_takes() -> None:
    broker = MemoryBroker()
    broker.create_topic("orders.dlq", 1, max_record_size=2000)
    record = MemoryRecord("orders", 0, 4, b"k", b"v" * 5000)

    await broker.publish(DeadLetter(record, ValueError("bad"), 1, "orders.dlq"))

    (dead,) = broker.records("orders.dlq")
    assert dead.value == b""
    assert text_headers(dead.headers)[OMITTED_HEADER] == "value"


async def test_a_paused_partition_returns_nothing_until_resumed_then_carries_on() -> None:
    broker = MemoryBroker(partitions=2)
    for n in range(3):
        broker.append("orders", str(n).encode(), partition=0)
        broker.append("orders", str(n).encode(), partition=1)
    transport = broker.transport(["orders"], "billing")

    first = await transport.fetch(max_records=2)
    transport.pause(Partition("orders", 0))
    rest = await transport.fetch(max_records=10)
    transport.resume(Partition("orders", 0))
    resumed = await transport.fetch(max_records=10)

    taken = [(record.partition, record.offset) for record in first + rest + resumed]
    assert sorted(taken) == [(p, n) for p in (0, 1) for n in range(3)]  # each once
    assert {record.partition for record in rest} == {1}


async def test_an_empty_fetch_returns_when_a_record_arrives() -> None:
    broker = MemoryBroker()
    transport = broker.transport(["orders"], "billing")

    fetching = asyncio.ensure_future(transport.fetch(max_records=10))
    await asyncio.sleep(0)  # let the fetch find nothing and wait
    broker.append("orders", b"late")

    assert [record.value for record in await asyncio.wait_for(fetching, 5.0)] == [b"late"]


async def test_a_group_starts_where_it_committed_and_ignores_partitions_it_does_not_hold() -> None:
    broker = MemoryBroker()
    for n in range(3):
        broker.append("orders", str(n).encode())
    first = broker.transport(["orders"], "billing")
    await first.commit({Partition("orders", 0): 2, Partition("elsewhere", 0): 9})

    again = await broker.transport(["orders"], "billing").fetch(max_records=10)

    assert [record.offset for record in again] == [2]
    assert broker.position("billing", "elsewhere", 0) is None
    assert broker.position("shipping", "orders", 0) is None


async def test_waiting_for_a_position_gives_up_after_its_timeout() -> None:
    with pytest.raises(TimeoutError, match="did not commit offset 1"):
        await MemoryBroker().wait_for_position("billing", "orders", 0, 1, timeout=0.05)


async def test_a_message_sent_to_it_is_a_record_as_a_broker_adapter_writes_it() -> None:
    broker = MemoryBroker(partitions=3)
    message = Message("joined", "users", {"user_id": "u1"}, key="u1", headers={"trace": "t"})

    await broker.send_message(message)

    (record,) = broker.records("users")
    assert record.key == b"u1"
    assert record.value == b'{"user_id":"u1"}'
    assert text_headers(record.headers) == {
        MESSAGE_ID_HEADER: str(message.message_id),
        EVENT_NAME_HEADER: "joined",
        "trace": "t",
    }
    assert isinstance(broker, MessageBroker)
