"""Read an order with its saga's step log (`OrderReads`: one round trip on PostgreSQL).

The order is read at least as new as the saga: the saga's steps write the
order's outcome before they log it, so an order read beside a finished saga
shows that outcome.
"""

from __future__ import annotations

import datetime
import decimal
import uuid

import pydantic

import cqrs
from cqrs.saga.models import SagaLogEntry, SagaStepAction
from orders.application.errors import OrderNotFoundError
from orders.application.ports import OrderReads
from orders.domain.order import Order, OrderStatus, RejectionReason

__all__ = (
    "GetOrder",
    "OrderDetails",
    "OrderLine",
    "HistoryEntry",
    "GetOrderHandler",
    "read_order",
    "trace_id_of",
)


class OrderLine(cqrs.Response):
    """One item of an order."""

    sku: str
    quantity: int
    unit_price: decimal.Decimal


class HistoryEntry(cqrs.Response):
    """One transition of the order's saga: a step's act or compensation, and how it went."""

    step: str
    action: SagaStepAction
    status: str
    at: datetime.datetime

    @classmethod
    def of(cls, entry: SagaLogEntry) -> HistoryEntry:
        """The entry of one line of the saga's step log."""
        return cls(
            step=entry.step_name, action=entry.action, status=entry.status.value, at=entry.timestamp
        )


class OrderDetails(cqrs.Response):
    """An order, its outcome and its saga's history (oldest first)."""

    order_id: str
    customer_id: str
    status: OrderStatus
    reason: RejectionReason | None
    items: list[OrderLine]
    total: decimal.Decimal
    history: list[HistoryEntry]
    #: The trace of the order's saga (32 hex digits), when telemetry recorded one: the
    #: trace its `POST` started, which every hop of the order continues.
    trace_id: str | None = None
    #: Whether the saga has ended: the status is final and the history complete.
    finished: bool = pydantic.Field(exclude=True)

    @classmethod
    def of(
        cls,
        order: Order,
        history: list[HistoryEntry],
        finished: bool,
        trace_id: str | None = None,
    ) -> OrderDetails:
        return cls(
            order_id=str(order.order_id),
            customer_id=order.customer_id,
            status=order.status,
            reason=order.reason,
            items=[
                OrderLine(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price)
                for item in order.items
            ],
            total=order.total,
            history=history,
            trace_id=trace_id,
            finished=finished,
        )


class GetOrder(cqrs.Request[OrderDetails]):
    """Ask for order `order_id`."""

    order_id: uuid.UUID


class GetOrderHandler(cqrs.RequestHandler[GetOrder, OrderDetails]):
    """Reads the order and its saga. Raises `OrderNotFoundError` for an unknown id."""

    def __init__(self, reads: OrderReads) -> None:
        self._reads = reads

    async def handle(self, request: GetOrder) -> OrderDetails:
        return await read_order(self._reads, request.order_id)


async def read_order(reads: OrderReads, order_id: uuid.UUID) -> OrderDetails:
    """The order `order_id` with its saga's history (`OrderReads`: the order at least as
    new as the saga). Raises `OrderNotFoundError` for an unknown id.
    """
    found = await reads.read(order_id)
    if found is None:
        # Order and saga are created together: no saga, no order.
        raise OrderNotFoundError(order_id)
    order, saga, log = found
    history = [HistoryEntry.of(entry) for entry in log]
    return OrderDetails.of(
        order, history, finished=saga.status.is_final, trace_id=trace_id_of(saga.trace_context)
    )


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` (`version-traceid-spanid-flags`), if it is one.

    >>> trace_id_of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    '0af7651916cd43dd8448eb211c80319c'
    >>> trace_id_of(None) is None
    True
    """
    parts = (traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return parts[1]
    return None
