"""The inventory on the local Kafka broker, on SQLite and PostgreSQL: commands produced to
the commands topic are handled by the consumer, and the replies reach the replies topic
through the outbox and the in-process relay (the wiring `serve` runs)."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import typing

import pytest

import cqrs
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.dead_letter import ORIGINAL_TOPIC_HEADER
from cqrs_kafka.testing import read_records
from inventory.adapters.kafka import Topics
from inventory.adapters.messages import IncomingReserveStockPayload
from inventory.application import Restock
from inventory.domain import MAX_ORDER_ID_LENGTH
from inventory.main import Inventory, Overrides, build
from inventory.settings import Settings

Command = collections.abc.Callable[..., cqrs.NotificationEvent[typing.Any]]
Read = collections.abc.Callable[[], collections.abc.Awaitable[typing.Any]]


@pytest.fixture
def topics(kafka_topic: str) -> Topics:
    return Topics(commands=f"{kafka_topic}.commands", replies=f"{kafka_topic}.replies")


@pytest.fixture
async def inventory(
    database_url: str, kafka_bootstrap_servers: str, topics: Topics
) -> collections.abc.AsyncIterator[Inventory]:
    """The inventory consuming and relaying, with five units of tea."""
    settings = Settings(
        signing="off",
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        relay_in_process=True,
    )
    inventory = build(settings, overrides=Overrides(topics=topics))
    async with inventory.running():
        await inventory.mediator.send(Restock(sku="tea", quantity=5))
        yield inventory


Send = collections.abc.Callable[..., typing.Awaitable[None]]


@pytest.fixture
async def send(kafka_bootstrap_servers: str, topics: Topics) -> collections.abc.AsyncIterator[Send]:
    """`await send(command, key=...)`: produce a command to the commands topic, as the
    orders service's relay does (the record key is the order id there)."""
    async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as producer:

        async def send(command: cqrs.NotificationEvent[typing.Any], *, key: str) -> None:
            message = cqrs.Message.from_event(command, key)
            await producer.send_message(dataclasses.replace(message, topic=topics.commands))

        yield send


def reply_of(value: bytes | None) -> tuple[str, dict[str, typing.Any]]:
    wire = json.loads(value or b"")
    return wire["event_name"], wire["payload"]


async def test_commands_are_answered_on_the_replies_topic(
    inventory: Inventory,
    send: Send,
    reserve_stock: Command,
    kafka_bootstrap_servers: str,
    topics: Topics,
    levels: Read,
) -> None:
    await send(reserve_stock("o-1", tea=2), key="o-1")
    await send(reserve_stock("o-2", tea=9), key="o-2")
    records = await read_records(kafka_bootstrap_servers, topics.replies, 2)
    by_key = {record.key: reply_of(record.value) for record in records}
    rejected = {"order_id": "o-2", "reason": "insufficient_stock", "skus": ["tea"]}
    assert by_key == {
        b"o-1": ("stock_reserved", {"order_id": "o-1"}),
        b"o-2": ("stock_rejected", rejected),
    }
    assert await levels() == {"tea": (3, 2)}


async def test_a_command_delivered_twice_is_handled_once(
    inventory: Inventory,
    send: Send,
    reserve_stock: Command,
    release_stock: Command,
    kafka_bootstrap_servers: str,
    topics: Topics,
    reservations: Read,
) -> None:
    reserve = reserve_stock("o-1", tea=2)
    await send(reserve, key="o-1")
    await send(reserve, key="o-1")  # same message id: the inbox drops it, unanswered
    await send(release_stock("o-1"), key="o-1")
    # One key, one partition: the replies come in the order the commands were handled.
    records = await read_records(kafka_bootstrap_servers, topics.replies, 2)
    assert [reply_of(record.value)[0] for record in records] == [
        "stock_reserved",
        "stock_released",
    ]
    assert await reservations() == [("o-1", "tea", 2, "released")]


async def test_a_command_without_a_readable_order_id_is_dead_lettered_and_the_next_is_handled(
    inventory: Inventory,
    send: Send,
    reserve_stock: Command,
    kafka_bootstrap_servers: str,
    topics: Topics,
) -> None:
    command = reserve_stock("o-1", tea=1)
    # Built past validation: the consumer must refuse it when it decodes it.
    unreadable = command.model_copy(
        update={
            "payload": IncomingReserveStockPayload.model_construct(
                order_id="x" * (MAX_ORDER_ID_LENGTH + 1), items=[{"sku": "tea", "quantity": 1}]
            )
        }
    )
    await send(unreadable, key="o-1")
    await send(reserve_stock("o-1", tea=1), key="o-1")
    (dead,) = await read_records(kafka_bootstrap_servers, topics.commands_dead_letter, 1)
    assert reply_of(dead.value)[1]["order_id"] == "x" * (MAX_ORDER_ID_LENGTH + 1)
    assert dict(dead.headers)[ORIGINAL_TOPIC_HEADER] == topics.commands.encode()
    (reply,) = await read_records(kafka_bootstrap_servers, topics.replies, 1)
    assert reply_of(reply.value) == ("stock_reserved", {"order_id": "o-1"})


async def test_a_command_whose_items_break_the_contract_is_answered_rejected(
    inventory: Inventory,
    send: Send,
    reserve_stock: Command,
    kafka_bootstrap_servers: str,
    topics: Topics,
    levels: Read,
) -> None:
    long_sku = [{"sku": "x" * 256, "quantity": 1}]
    await send(reserve_stock("o-long", items=long_sku), key="o-long")
    await send(reserve_stock("o-zero", items=[{"sku": "tea", "quantity": 0}]), key="o-zero")
    await send(reserve_stock("o-empty", items=[]), key="o-empty")

    records = await read_records(kafka_bootstrap_servers, topics.replies, 3)

    assert {record.key: reply_of(record.value) for record in records} == {
        key.encode(): (
            "stock_rejected",
            {"order_id": key, "reason": "invalid_items", "skus": []},
        )
        for key in ("o-long", "o-zero", "o-empty")
    }
    assert await levels() == {"tea": (5, 0)}
