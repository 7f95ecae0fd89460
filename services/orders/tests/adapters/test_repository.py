from __future__ import annotations

import decimal
import uuid

import pytest

from orders.adapters.database import Database
from orders.application.errors import OrderNotFoundError
from orders.domain.order import Order, OrderItem, OrderStatus, RejectionReason

D = decimal.Decimal


async def test_an_order_reads_back_as_it_was_placed(database: Database) -> None:
    order = Order.place(
        "c-1",
        [
            OrderItem("tea", 3, D("12.5")),
            OrderItem("cup", 1, D("0")),
            OrderItem("pot", 2, D("999999999.99")),
        ],
    )
    async with database.unit_of_work()() as work:
        await work.orders.add(order)

    async with database.unit_of_work()() as work:
        stored = await work.orders.get(order.order_id)

    assert stored == order
    assert stored is not None
    assert [str(item.unit_price) for item in stored.items] == ["12.50", "0.00", "999999999.99"]


async def test_an_unknown_order_reads_as_none(database: Database) -> None:
    async with database.unit_of_work()() as work:
        assert await work.orders.get(uuid.uuid4()) is None


async def test_update_stores_the_outcome(database: Database) -> None:
    order = Order.place("c-1", [OrderItem("tea", 1, D("1.00"))])
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
    order.reject(RejectionReason.PAYMENT_DECLINED)

    async with database.unit_of_work()() as work:
        await work.orders.update(order)
    async with database.unit_of_work()() as work:
        stored = await work.orders.get(order.order_id)

    assert stored is not None
    assert (stored.status, stored.reason) == (
        OrderStatus.REJECTED,
        RejectionReason.PAYMENT_DECLINED,
    )


async def test_updating_an_unknown_order_raises(database: Database) -> None:
    order = Order.place("c-1", [OrderItem("tea", 1, D("1.00"))])
    with pytest.raises(OrderNotFoundError):
        async with database.unit_of_work()() as work:
            await work.orders.update(order)
