"""Replies reach their saga through the event mediator, as the Kafka consumer sends them."""

from __future__ import annotations

import decimal
import logging
import uuid

import pytest

from orders.adapters.messages import (
    INVENTORY_REPLIES,
    StockReleased,
    StockReleasedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.application.get_order import GetOrder
from orders.application.inventory import STOCK_RELEASED, STOCK_RESERVED
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.domain.order import OrderStatus
from orders.main import Orders


def stock_reserved(order_id: str) -> StockReserved:
    return StockReserved(
        event_name=STOCK_RESERVED,
        topic=INVENTORY_REPLIES,
        payload=StockReservedPayload(order_id=order_id),
    )


async def place(orders: Orders) -> str:
    item = PlaceOrderItem(sku="tea", quantity=1, unit_price=decimal.Decimal("5.00"))
    placed = await orders.requests.send(PlaceOrder(customer_id="c-1", items=[item]))
    return placed.order_id


async def status(orders: Orders, order_id: str) -> OrderStatus:
    return (await orders.requests.send(GetOrder(order_id=uuid.UUID(order_id)))).status


async def test_stock_reserved_confirms_the_order(orders: Orders) -> None:
    order_id = await place(orders)

    await orders.events.send(stock_reserved(order_id))

    assert await status(orders, order_id) is OrderStatus.CONFIRMED


async def test_a_redelivered_reply_changes_nothing(orders: Orders) -> None:
    order_id = await place(orders)
    reply = stock_reserved(order_id)
    await orders.events.send(reply)
    history = (await orders.requests.send(GetOrder(order_id=uuid.UUID(order_id)))).history

    await orders.events.send(reply)

    again = await orders.requests.send(GetOrder(order_id=uuid.UUID(order_id)))
    assert again.history == history
    assert again.status is OrderStatus.CONFIRMED


@pytest.mark.parametrize("order_id", [str(uuid.uuid4()), "not-an-order-id"])
async def test_a_reply_for_no_known_order_is_dropped(
    orders: Orders, order_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="orders.replies"):
        await orders.events.send(stock_reserved(order_id))

    assert f"no order {order_id!r}" in caplog.text


async def test_stock_released_is_not_waited_for(orders: Orders) -> None:
    order_id = await place(orders)
    released = StockReleased(
        event_name=STOCK_RELEASED,
        topic=INVENTORY_REPLIES,
        payload=StockReleasedPayload(order_id=order_id),
    )

    await orders.events.send(released)

    assert await status(orders, order_id) is OrderStatus.PENDING
