"""Replies reach their saga through the event mediator, as the Kafka consumer sends them."""

from __future__ import annotations

import decimal
import logging
import uuid

import pytest
import sqlalchemy as sa

from cqrs.saga.models import SagaStatus
from orders.adapters import tables
from orders.adapters.database import Database
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    StockReleased,
    StockReleasedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.adapters.payment import SimulatedPayment
from orders.application.get_order import GetOrder
from orders.application.inventory import STOCK_RELEASED, STOCK_RESERVED
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.domain.order import OrderStatus
from orders.main import Orders, Overrides, build
from orders.settings import Settings


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


class Crash(BaseException):
    """Stands for the process dying: no `except Exception` handles it."""


class PaymentThenCrash(SimulatedPayment):
    """Takes the first charge, then the process dies before anything records it."""

    def __init__(self) -> None:
        super().__init__(decimal.Decimal("1000.00"))

    async def charge(self, order_id: str, customer_id: str, amount: decimal.Decimal) -> None:
        await super().charge(order_id, customer_id, amount)
        if self.calls == 1:
            raise Crash("the orders process died after the charge")


async def test_the_payment_the_confirmation_and_the_saga_end_commit_together(
    orders: Orders, database: Database
) -> None:
    order_id = await place(orders)

    await orders.events.send(stock_reserved(order_id))

    if database.engine.dialect.name != "postgresql":
        pytest.skip("transaction ids (xmin) are PostgreSQL's")
    saga, log = database.schema.saga.name, database.schema.saga_log.name
    ids = {"id": uuid.UUID(order_id)}
    async with database.engine.connect() as connection:

        async def xid(table: str) -> str:
            query = sa.text(f"SELECT xmin::text FROM {table} WHERE id = :id")
            return (await connection.execute(query, ids)).scalar_one()

        order_xid, saga_xid = await xid(tables.orders.name), await xid(saga)
        entries = (
            await connection.execute(
                sa.text(
                    f"SELECT step_name, status, xmin::text FROM {log} WHERE saga_id = :id "
                    "ORDER BY id"
                ),
                ids,
            )
        ).all()
    xids = {(step, status): xid for step, status, xid in entries}
    # One transaction wrote the charge's entry, the confirmed order and the finished saga.
    assert xids[("ChargePayment", "completed")] == order_xid == saga_xid
    assert xids[("ConfirmOrder", "completed")] == order_xid
    # The reply's own write committed before it, on its own.
    assert xids[("ReserveStock", "completed")] != order_xid


async def test_a_crash_after_the_charge_leaves_the_saga_at_the_reply_for_recovery(
    database: Database,
) -> None:
    payment = PaymentThenCrash()
    orders = build(
        Settings(signing="off", database_url=str(database.engine.url)),
        overrides=Overrides(database=database, payment=payment),
    )
    order_id = await place(orders)

    with pytest.raises(Crash):
        await orders.events.send(stock_reserved(order_id))

    # Nothing after the reply's own write was stored, and the claim was given up.
    saga_id = uuid.UUID(order_id)
    history = await orders.sagas.storage.get_step_history(saga_id)
    assert [(e.step_name, e.status.value) for e in history][-1] == ("ReserveStock", "completed")
    assert await status(orders, order_id) is OrderStatus.PENDING
    # Recovery (an operator's retry here) charges again, idempotently, and confirms.
    state = await orders.recovery.retry(saga_id)
    assert state.status is SagaStatus.COMPLETED
    assert payment.calls == 2
    assert await status(orders, order_id) is OrderStatus.CONFIRMED
