"""A `reserve_stock` command delivered twice (same event id) reserves once."""

from __future__ import annotations

import typing
import uuid

import aiokafka
import pydantic

import cqrs
from cqrs.message_brokers.protocol import Message
from cqrs_demo import ReferenceSystem
from cqrs_kafka.broker import record_value

from .running import signed_record_headers
from .shop import Shop

COMMANDS_TOPIC = "inventory.commands"


class Item(pydantic.BaseModel):
    sku: str
    quantity: int


class ReserveStock(pydantic.BaseModel):
    """The wire payload of `reserve_stock`, as the shared contract defines it."""

    order_id: str
    items: list[Item]


def reserve_stock(sku: str, quantity: int) -> Message:
    """A `reserve_stock` command for a new order id, as orders' outbox would send it."""
    order_id = str(uuid.uuid4())
    event = cqrs.NotificationEvent[ReserveStock](
        event_name="reserve_stock",
        topic=COMMANDS_TOPIC,
        payload=ReserveStock(order_id=order_id, items=[Item(sku=sku, quantity=quantity)]),
    )
    return Message.from_event(event, key=order_id)


async def test_a_duplicated_reserve_stock_reserves_once(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    marker_sku = f"{sku}-marker"
    await shop.restock(sku, 10)
    await shop.restock(marker_sku, 10)
    command = reserve_stock(sku, 3)
    marker = reserve_stock(marker_sku, 1)

    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=system.config.bootstrap_servers)
    send_and_wait = typing.cast(
        "typing.Callable[..., typing.Awaitable[object]]",
        producer.send_and_wait,  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
    )
    await producer.start()
    try:
        # One partition for all three, so inventory reads them in this order.
        for message in (command, command, marker):
            await send_and_wait(
                COMMANDS_TOPIC,
                record_value(message),
                key=None if message.key is None else message.key.encode(),
                headers=signed_record_headers(system, message),
                partition=0,
            )
    finally:
        await producer.stop()

    # Once the marker's reservation shows, both copies before it were handled.
    await shop.wait_for_stock(marker_sku, lambda stock: stock["reserved"] == 1)
    # No order of the orders service: nothing confirms, so the units stay held.
    assert await shop.stock(sku) == {
        "sku": sku,
        "available": 7,
        "reserved": 3,
        "sold": 0,
        "revenue": "0.00",
    }
