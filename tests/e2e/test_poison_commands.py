"""Poison on the command topic, beside good orders, through the whole system: a 3 MB record
that is not a command, commands that can never succeed and commands for made-up orders.

Each costs at most its own partition a bounded delay: the good orders placed meanwhile are
confirmed about as fast as before (compared with the same system's own latency measured
first, in the same test), every poison record ends in the dead-letter topic or is answered,
and nothing is read again and again.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import typing
import uuid

import aiokafka
from aiokafka.structs import ConsumerRecord, TopicPartition

import cqrs
from cqrs.consumer.dead_letter import (
    OMITTED_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
)
from cqrs.message_brokers.protocol import Message
from cqrs_demo import ReferenceSystem
from cqrs_kafka.broker import record_value

from .running import signed_record_headers
from .shop import Shop

COMMANDS_TOPIC = "inventory.commands"
DEAD_LETTER_TOPIC = "inventory.commands.dlq"
REPLIES_TOPIC = "inventory.replies"
GOOD_ORDERS = 8
#: How much slower than its own baseline a good order may be while poison is handled:
#: generous for a loaded machine, far below what a wedged partition costs (a 30 s timeout).
SLOWDOWN_ALLOWED = 4.0
SLACK_SECONDS = 1.5


class _Sent(typing.Protocol):
    """Where aiokafka's `send_and_wait` put a record."""

    partition: int
    offset: int


class _Reader(typing.Protocol):
    """The part of `aiokafka.AIOKafkaConsumer` these tests use, typed."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool: ...
    async def position(self, partition: TopicPartition) -> int: ...
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]: ...


def invalid_reserve_stock(order_id: str) -> Message:
    """A `reserve_stock` no retry can serve: a quantity of 0 and a sku over the contract."""
    payload = {"order_id": order_id, "items": [{"sku": "x" * 256, "quantity": 0}]}
    event = cqrs.NotificationEvent[dict[str, typing.Any]](
        event_name="reserve_stock", topic=COMMANDS_TOPIC, payload=payload
    )
    return Message.from_event(event, key=order_id)


async def produce_poison(
    system: ReferenceSystem, made_up_orders: list[str]
) -> list[tuple[int, int]]:
    """Put one poison record on each partition of the command topic: a 3 MB record that is
    not a command, then invalid commands for `made_up_orders`; return where each went."""
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=system.config.bootstrap_servers, max_request_size=8 * 1024 * 1024
    )
    send_and_wait = typing.cast(
        "typing.Callable[..., typing.Awaitable[_Sent]]",
        producer.send_and_wait,  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
    )
    await producer.start()
    try:
        oversized = send_and_wait(COMMANDS_TOPIC, b"\xff" * (3 * 1024 * 1024), partition=0)
        invalid = [invalid_reserve_stock(order_id) for order_id in made_up_orders]
        sent = [await oversized]
        for partition, message in enumerate(invalid, start=1):
            sent.append(
                await send_and_wait(
                    COMMANDS_TOPIC,
                    record_value(message),
                    key=None if message.key is None else message.key.encode(),
                    headers=signed_record_headers(system, message),
                    partition=partition,
                )
            )
        return [(metadata.partition, metadata.offset) for metadata in sent]
    finally:
        await producer.stop()


async def headers_on(bootstrap_servers: str, topic: str) -> list[dict[str, str]]:
    """The headers (as text) of every record `topic` holds now, with its key as `key`."""
    started = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, fetch_max_wait_ms=100
    )
    await started.start()
    consumer = typing.cast(_Reader, started)
    try:
        partitions = [TopicPartition(topic, n) for n in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[dict[str, str]] = []
        for where in partitions:
            while await consumer.position(where) < ends[where]:
                for record in (await consumer.getmany(where, timeout_ms=1000)).get(where, []):
                    headers = {name: value.decode() for name, value in record.headers}
                    found.append({**headers, "key": (record.key or b"").decode()})
        return found
    finally:
        await started.stop()


async def eventually_on(
    bootstrap_servers: str,
    topic: str,
    done: typing.Callable[[list[dict[str, str]]], bool],
    timeout: float = 30.0,
) -> list[dict[str, str]]:
    """The headers on `topic` once `done` holds for them (polled until `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await headers_on(bootstrap_servers, topic)
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def latencies(shop: Shop, sku: str, count: int) -> list[float]:
    """Seconds from `POST /orders` to the final status of `count` orders placed at once;
    every one must end confirmed."""

    async def one() -> float:
        started = time.monotonic()
        order = await shop.wait_until_final(await shop.place_order(sku, 1))
        assert order["status"] == "confirmed", order
        return time.monotonic() - started

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def test_poison_on_every_partition_does_not_hold_up_the_good_orders(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    await shop.restock(sku, 2 * GOOD_ORDERS)
    baseline = await latencies(shop, sku, GOOD_ORDERS)

    servers = system.config.bootstrap_servers
    made_up_orders = [str(uuid.uuid4()), f"not-a-uuid-{uuid.uuid4().hex[:8]}"]
    poisoned, beside = await asyncio.gather(
        produce_poison(system, made_up_orders), latencies(shop, sku, GOOD_ORDERS)
    )

    assert statistics.median(beside) <= SLOWDOWN_ALLOWED * statistics.median(baseline) + (
        SLACK_SECONDS
    ), (baseline, beside)
    assert max(beside) <= SLOWDOWN_ALLOWED * max(baseline) + SLACK_SECONDS, (baseline, beside)
    # The record that is not a command was dead-lettered once, without its 3 MB value, and
    # says where to fetch it; the invalid commands were answered (stock_rejected), not
    # dead-lettered.
    letters = await eventually_on(servers, DEAD_LETTER_TOPIC, bool)
    partition, offset = poisoned[0]
    assert [
        (
            letter[ORIGINAL_TOPIC_HEADER],
            letter[ORIGINAL_PARTITION_HEADER],
            letter[ORIGINAL_OFFSET_HEADER],
            letter[OMITTED_HEADER],
        )
        for letter in letters
    ] == [(COMMANDS_TOPIC, str(partition), str(offset), "value")]

    def rejected(replies: list[dict[str, str]]) -> set[str]:
        return {r["key"] for r in replies if r.get("event_name") == "stock_rejected"}

    replies = await eventually_on(
        servers, REPLIES_TOPIC, lambda found: set(made_up_orders) <= rejected(found)
    )
    assert set(made_up_orders) <= rejected(replies)
    sold = await shop.wait_until_sold(sku, 2 * GOOD_ORDERS)
    # Every good order was one unit at 1.00.
    assert sold == {
        "sku": sku,
        "available": 0,
        "reserved": 0,
        "sold": 2 * GOOD_ORDERS,
        "revenue": f"{2 * GOOD_ORDERS}.00",
    }
