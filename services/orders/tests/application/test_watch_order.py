"""Following an order: its saga's transitions pushed to an open stream as they are written."""

from __future__ import annotations

import asyncio
import collections.abc
import decimal
import uuid

from orders.adapters.database import Database
from orders.adapters.messages import INVENTORY_REPLIES, StockReserved, StockReservedPayload
from orders.application.get_order import GetOrder, OrderDetails
from orders.application.inventory import STOCK_RESERVED
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.application.watch_order import OrderSnapshot, OrderTransition, WatchOrder
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


def marked(details: OrderDetails) -> OrderDetails:
    """`details` with its first step renamed: a stream that sends that name started
    from these details, not from a read of its own."""
    first = details.history[0].model_copy(update={"step": "FromTheSnapshot"})
    return details.model_copy(update={"history": [first, *details.history[1:]]})


async def test_a_stream_starts_from_the_order_its_caller_read_while_nothing_changed(
    database: Database,
) -> None:
    orders = pushed_only(database)
    order_id = await placed(orders)
    # A service's process listens from its first stream on (starting moves the versions).
    async with orders.changes.following(uuid.uuid4()):
        version = orders.changes.version(order_id)
        details = await orders.requests.send(GetOrder(order_id=order_id))

        known = OrderSnapshot(details=marked(details), version=version)
        stream = orders.streams.stream(WatchOrder(order_id=order_id, known=known))
        first = await asyncio.wait_for(anext(stream), DEADLINE)
        await stream.aclose()

    assert first.step == "FromTheSnapshot"


async def test_a_stream_reads_the_order_again_when_its_saga_changed_after_the_callers_read(
    database: Database,
) -> None:
    orders = pushed_only(database)
    order_id = await placed(orders)
    version = orders.changes.version(order_id)
    details = await orders.requests.send(GetOrder(order_id=order_id))
    await reserve(orders, order_id)  # the saga moves on after the read
    await asyncio.wait_for(moved(orders, order_id, version), DEADLINE)

    known = OrderSnapshot(details=marked(details), version=version)
    seen = await asyncio.wait_for(
        whole(orders.streams.stream(WatchOrder(order_id=order_id, known=known))), DEADLINE
    )

    assert [(t.position, t.step) for t in seen] == [
        (1, "OpenOrder"),
        (2, "ReserveStock"),
        (3, "ReserveStock"),
        (4, "ChargePayment"),
        (5, "ConfirmOrder"),
    ]


async def moved(orders: Orders, order_id: uuid.UUID, version: int) -> None:
    """Returns once this process has heard of a change of the order's saga since `version`
    (the notification comes through the server, after the write returned)."""
    async with orders.changes.following(order_id) as changed:
        while orders.changes.version(order_id) == version:
            await changed.wait()
            changed.clear()


async def whole(
    stream: collections.abc.AsyncIterator[OrderTransition],
) -> list[OrderTransition]:
    return [transition async for transition in stream]
