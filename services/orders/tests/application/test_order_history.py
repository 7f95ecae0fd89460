"""The read side: a customer's orders, kept from the order's domain events."""

from __future__ import annotations

import datetime
import decimal
import uuid

from orders.adapters.memory import MemoryOrderSummaries
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    StockRejected,
    StockRejectedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.application.inventory import STOCK_REJECTED, STOCK_RESERVED
from orders.application.order_history import (
    ListCustomerOrders,
    OrderSummary,
    project,
)
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.domain.order import (
    OrderStatus,
    OrderWasConfirmed,
    OrderWasPlaced,
    RejectionReason,
)
from orders.main import Orders


async def place(orders: Orders, customer_id: str, unit_price: str) -> str:
    item = PlaceOrderItem(sku="tea", quantity=2, unit_price=decimal.Decimal(unit_price))
    placed = await orders.requests.send(PlaceOrder(customer_id=customer_id, items=[item]))
    return placed.order_id


async def test_a_customers_orders_show_their_outcome_total_and_timing(orders: Orders) -> None:
    confirmed = await place(orders, "ann", "1.50")
    rejected = await place(orders, "ann", "2.00")
    pending = await place(orders, "ann", "3.00")
    await place(orders, "bob", "4.00")
    await orders.events.send(
        StockReserved(
            event_name=STOCK_RESERVED,
            topic=INVENTORY_REPLIES,
            payload=StockReservedPayload(order_id=confirmed),
        )
    )
    await orders.events.send(
        StockRejected(
            event_name=STOCK_REJECTED,
            topic=INVENTORY_REPLIES,
            payload=StockRejectedPayload(
                order_id=rejected, reason="insufficient_stock", skus=["tea"]
            ),
        )
    )

    listed = await orders.requests.send(ListCustomerOrders(customer_id="ann"))

    by_id = {summary.order_id: summary for summary in listed.orders}
    assert set(by_id) == {confirmed, rejected, pending}
    assert listed.orders[0].order_id == pending  # newest first
    assert (by_id[confirmed].status, by_id[confirmed].total) == (
        OrderStatus.CONFIRMED,
        decimal.Decimal("3.00"),
    )
    assert (by_id[rejected].status, by_id[rejected].reason) == (
        OrderStatus.REJECTED,
        RejectionReason.INSUFFICIENT_STOCK,
    )
    assert by_id[pending].decided_at is None
    for decided in (by_id[confirmed], by_id[rejected]):
        assert decided.decision_seconds is not None
        assert decided.decision_seconds >= 0
    assert by_id[confirmed].item_count == 1


async def test_a_customer_without_orders_has_an_empty_list(orders: Orders) -> None:
    listed = await orders.requests.send(ListCustomerOrders(customer_id=str(uuid.uuid4())))
    assert listed.orders == []


class _RecordedSummaries(MemoryOrderSummaries):
    """`MemoryOrderSummaries` that notes each read through `get`."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[uuid.UUID] = []

    async def get(self, order_id: uuid.UUID) -> OrderSummary | None:
        self.reads.append(order_id)
        return await super().get(order_id)


async def test_an_order_is_projected_without_reading_its_summary() -> None:
    summaries = _RecordedSummaries()
    order_id, at = uuid.uuid4(), datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    await project(summaries, [OrderWasPlaced(order_id, "ann", decimal.Decimal("3.00"), 1)], at)
    assert summaries.reads == []  # nothing to read: the summary is new
    await project(summaries, [OrderWasConfirmed(order_id)], at)

    assert summaries.reads == []  # the outcome is set on the summary kept
    assert [summary.status for summary in await summaries.of_customer("ann", 5)] == [
        OrderStatus.CONFIRMED
    ]
