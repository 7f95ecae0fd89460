from __future__ import annotations

import decimal
import logging

import pytest

from cqrs.saga.models import SagaStatus
from orders.application.saga import OrderSaga, OrderSagaContext
from orders.domain.order import Order, OrderItem
from orders.main import Orders


async def stored_saga(orders: Orders) -> OrderSagaContext:
    order = Order.place("c-1", [OrderItem("tea", 1, decimal.Decimal("1.00"))])
    context = OrderSagaContext.of(order)
    async with orders.database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(context.saga_id, OrderSaga.saga_name(), context.to_dict())
    return context


async def test_a_launched_saga_runs_until_it_waits(orders: Orders) -> None:
    context = await stored_saga(orders)
    launcher = orders.launcher

    launcher.launch(context.saga_id)
    await launcher.join()

    state = await orders.sagas.storage.load_saga_state(context.saga_id)
    assert state.status is SagaStatus.RUNNING
    assert state.waiting is not None


async def test_a_saga_held_elsewhere_is_left_to_its_holder(
    orders: Orders, caplog: pytest.LogCaptureFixture
) -> None:
    context = await stored_saga(orders)
    await orders.sagas.storage.claim(context.saga_id, "another-worker", orders.recovery.lease)
    launcher = orders.launcher

    with caplog.at_level(logging.INFO, logger="orders.sagas"):
        launcher.launch(context.saga_id)
        await launcher.join()

    assert "is run by another worker" in caplog.text
    state = await orders.sagas.storage.load_saga_state(context.saga_id)
    assert state.status is SagaStatus.PENDING


async def test_close_waits_for_running_passes(orders: Orders) -> None:
    context = await stored_saga(orders)
    launcher = orders.launcher

    launcher.launch(context.saga_id)
    await launcher.close()

    state = await orders.sagas.storage.load_saga_state(context.saga_id)
    assert state.waiting is not None
