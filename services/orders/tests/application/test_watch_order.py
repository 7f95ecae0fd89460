"""Following an order: its saga's transitions pushed to an open stream as they are written."""

from __future__ import annotations

import asyncio
import decimal
import uuid

from orders.adapters.database import Database
from orders.adapters.messages import INVENTORY_REPLIES, StockReserved, StockReservedPayload
from orders.application.inventory import STOCK_RESERVED
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.application.watch_order import OrderTransition, WatchOrder
from orders.domain.order import OrderStatus
from orders.main import Orders, Overrides, build
from orders.settings import Settings

#: A guard against a stream that never moves, not a measure of speed.
DEADLINE = 30.0


def pushed_only(database: Database) -> Orders:
    """The service with a stream poll of an hour: within a test, only a push moves a stream."""
    settings = Settings(
        signing="off", database_url=str(database.engine.url), stream_poll_seconds=3600
    )
    return build(settings, overrides=Overrides(database=database))


async def placed(orders: Orders) -> uuid.UUID:
    item = PlaceOrderItem(sku="tea", quantity=1, unit_price=decimal.Decimal("2.00"))
    order = await orders.requests.send(PlaceOrder(customer_id="c-1", items=[item]))
    return uuid.UUID(order.order_id)


async def reserve(orders: Orders, order_id: uuid.UUID) -> None:
    payload = StockReservedPayload(order_id=str(order_id))
    await orders.events.send(
        StockReserved(event_name=STOCK_RESERVED, topic=INVENTORY_REPLIES, payload=payload)
    )


async def test_each_transition_is_pushed_to_an_open_stream_and_the_last_ends_it(
    database: Database,
) -> None:
    orders = pushed_only(database)
    order_id = await placed(orders)
    stream = orders.streams.stream(WatchOrder(order_id=order_id))
    seen = [await asyncio.wait_for(anext(stream), DEADLINE) for _ in range(2)]
    waiting = asyncio.ensure_future(anext(stream))

    await reserve(orders, order_id)
    seen.append(await asyncio.wait_for(waiting, DEADLINE))
    seen += [transition async for transition in stream]

    assert [(t.position, t.step, t.status, t.last) for t in seen] == [
        (1, "OpenOrder", "completed", False),
        (2, "ReserveStock", "started", False),
        (3, "ReserveStock", "completed", False),
        (4, "ChargePayment", "completed", False),
        (5, "ConfirmOrder", "completed", True),
    ]
    assert {t.order_status for t in seen[:-1]} == {OrderStatus.PENDING}
    assert seen[-1].order_status is OrderStatus.CONFIRMED


async def test_a_stream_resumes_after_the_position_given(database: Database) -> None:
    orders = pushed_only(database)
    order_id = await placed(orders)
    await reserve(orders, order_id)

    resumed: list[OrderTransition] = [
        transition
        async for transition in orders.streams.stream(WatchOrder(order_id=order_id, after=3))
    ]

    assert [t.position for t in resumed] == [4, 5]
