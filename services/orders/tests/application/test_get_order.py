from __future__ import annotations

import decimal
import uuid

import pytest

from cqrs.saga.models import SagaStepAction
from orders.application.errors import OrderNotFoundError
from orders.application.get_order import GetOrder
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.domain.order import OrderStatus
from orders.main import Orders


async def test_a_pending_order_shows_its_items_and_the_saga_so_far(orders: Orders) -> None:
    item = PlaceOrderItem(sku="tea", quantity=3, unit_price=decimal.Decimal("1.10"))
    placed = await orders.requests.send(PlaceOrder(customer_id="c-1", items=[item]))

    details = await orders.requests.send(GetOrder(order_id=uuid.UUID(placed.order_id)))

    assert details.status is OrderStatus.PENDING
    assert details.reason is None
    assert details.total == decimal.Decimal("3.30")
    assert [(line.sku, line.quantity, line.unit_price) for line in details.items] == [
        ("tea", 3, decimal.Decimal("1.10"))
    ]
    assert [(e.step, e.action, e.status) for e in details.history] == [
        ("OpenOrder", SagaStepAction.ACT, "completed"),
        ("ReserveStock", SagaStepAction.ACT, "started"),
    ]
    assert not details.finished


async def test_an_unknown_order_is_not_found(orders: Orders) -> None:
    with pytest.raises(OrderNotFoundError, match="no order"):
        await orders.requests.send(GetOrder(order_id=uuid.uuid4()))
