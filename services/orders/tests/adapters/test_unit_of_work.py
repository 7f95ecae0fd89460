"""An order and its saga commit together, or not at all."""

from __future__ import annotations

import decimal
import uuid

import pytest

from cqrs.saga.errors import SagaNotFoundError
from cqrs.saga.models import SagaStatus
from orders.adapters.database import Database
from orders.application.errors import DataRejectedError
from orders.domain.order import Order, OrderItem


class Abort(Exception):
    pass


async def place_then_fail(database: Database, order: Order) -> None:
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(order.order_id, "OrderSaga", {"order_id": "x"})
        raise Abort


def new_order() -> Order:
    return Order.place("c-1", [OrderItem("tea", 1, decimal.Decimal("1.00"))])


async def test_an_order_and_its_saga_commit_together(database: Database) -> None:
    order = new_order()

    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(order.order_id, "OrderSaga", {"order_id": "x"})

    state = await database.saga_storage().load_saga_state(order.order_id)
    assert state.status is SagaStatus.PENDING
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) == order


async def test_a_failing_unit_of_work_keeps_neither(database: Database) -> None:
    order = new_order()

    with pytest.raises(Abort):
        await place_then_fail(database, order)

    with pytest.raises(SagaNotFoundError):
        await database.saga_storage().load_saga_state(order.order_id)
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) is None


async def test_the_unit_of_work_sees_its_own_saga_before_commit(database: Database) -> None:
    saga_id = uuid.uuid4()
    async with database.unit_of_work()() as work:
        await work.sagas.create_saga(saga_id, "OrderSaga", {})
        assert (await work.sagas.load_saga_state(saga_id)).version == 1


async def test_a_value_the_database_cannot_store_is_a_data_rejected_error(
    database: Database,
) -> None:
    # Past the contract (which refuses both at the edge): a lone surrogate no
    # database stores, and an item no domain rule looks at the characters of.
    order = Order.place("c-\ud800", [OrderItem("tea", 1, decimal.Decimal("1.00"))])

    with pytest.raises(DataRejectedError, match="change the value") as raised:
        async with database.unit_of_work()() as work:
            await work.orders.add(order)

    assert "INSERT" not in str(raised.value)  # the statement stays in the log
    async with database.unit_of_work()() as work:
        assert await work.orders.get(order.order_id) is None
