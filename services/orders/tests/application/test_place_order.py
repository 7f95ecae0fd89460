from __future__ import annotations

import decimal
import typing
import uuid

import pydantic
import pytest

from cqrs.saga.models import SagaStatus
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.application.saga import OrderSaga, OrderSagaContext
from orders.domain.errors import InvalidOrderError
from orders.domain.order import OrderStatus
from orders.main import Orders


def tea_order(quantity: int = 2) -> PlaceOrder:
    item = PlaceOrderItem(sku="tea", quantity=quantity, unit_price=decimal.Decimal("3.50"))
    return PlaceOrder(customer_id="c-1", items=[item])


def unchecked_tea_order(quantity: int) -> PlaceOrder:
    """A request built past the contract's validation, as a caller of the mediator might."""
    item = PlaceOrderItem.model_construct(
        sku="tea", quantity=quantity, unit_price=decimal.Decimal("3.50")
    )
    return PlaceOrder.model_construct(customer_id="c-1", items=[item])


async def test_placing_stores_the_order_and_its_saga_then_runs_the_saga(orders: Orders) -> None:
    placed = await orders.requests.send(tea_order())

    order_id = uuid.UUID(placed.order_id)
    assert placed.status is OrderStatus.PENDING
    async with orders.database.unit_of_work()() as work:
        order = await work.orders.get(order_id)
    assert order is not None
    assert order.total == decimal.Decimal("7.00")
    state = await orders.sagas.storage.load_saga_state(order_id)
    assert state.name == OrderSaga.saga_name()
    assert OrderSagaContext.from_dict(**state.context).order_id == placed.order_id
    # The background pass ran up to the reserve step, which waits for the inventory.
    assert state.status is SagaStatus.RUNNING
    assert state.waiting is not None
    assert state.waiting.step_name == "ReserveStock"


def test_a_request_breaking_the_contract_cannot_be_built() -> None:
    with pytest.raises(pydantic.ValidationError):
        tea_order(quantity=0)


async def test_an_invalid_order_stores_nothing(
    orders: Orders, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    with pytest.raises(InvalidOrderError):
        await orders.requests.send(unchecked_tea_order(quantity=0))

    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_a_placed_order_stores_one_order_and_one_saga(
    orders: Orders, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    await orders.requests.send(tea_order())

    assert await stored_rows() == {"orders": 1, "sagas": 1}
