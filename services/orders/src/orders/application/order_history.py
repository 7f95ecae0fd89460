"""The read side: each customer's orders, with totals and timings, kept from domain events.

The order aggregate records `OrderWasPlaced`, `OrderWasConfirmed` and
`OrderWasRejected`; the repository that stores an order hands them, in the
same transaction, to `project`, which keeps one `OrderSummary` per order in
the query model (`OrderSummaries`). `ListCustomerOrders` reads it: no join,
no saga, one indexed query.

>>> import decimal, uuid
>>> from orders.domain.order import OrderWasConfirmed, OrderWasPlaced
>>> order_id, placed_at = uuid.uuid4(), datetime.datetime(2026, 1, 1, 12, 0, 0)
>>> placed = OrderWasPlaced(order_id, "ann", decimal.Decimal("9.00"), 2)
>>> summary = summarize(None, placed, placed_at)
>>> later = placed_at + datetime.timedelta(seconds=1.5)
>>> decided = summarize(summary, OrderWasConfirmed(order_id), later)
>>> decided.status.value, decided.total, decided.decision_seconds
('confirmed', Decimal('9.00'), 1.5)
"""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid

import pydantic

import cqrs
from orders.application.ports import UnitOfWorkFactory
from orders.domain.limits import MAX_CUSTOMER_ID_LENGTH
from orders.domain.order import (
    OrderEvent,
    OrderStatus,
    OrderWasConfirmed,
    OrderWasPlaced,
    OrderWasRejected,
    RejectionReason,
)

__all__ = (
    "MAX_LISTED_ORDERS",
    "CustomerOrders",
    "ListCustomerOrders",
    "ListCustomerOrdersHandler",
    "OrderSummaries",
    "OrderSummary",
    "project",
    "summarize",
)

MAX_LISTED_ORDERS: typing.Final = 50
"""The most orders `ListCustomerOrders` returns: the customer's latest."""


class OrderSummary(cqrs.Response):
    """One order as the read side keeps it."""

    order_id: str
    customer_id: str
    status: OrderStatus
    reason: RejectionReason | None
    total: decimal.Decimal
    item_count: int
    placed_at: datetime.datetime
    decided_at: datetime.datetime | None

    @property
    def decision_seconds(self) -> float | None:
        """How long the saga took to decide the order, once it has."""
        if self.decided_at is None:
            return None
        return (self.decided_at - self.placed_at).total_seconds()


class OrderSummaries(typing.Protocol):
    """The query model: one summary per order, within one unit of work."""

    async def get(self, order_id: uuid.UUID) -> OrderSummary | None:
        """The order's summary, or `None` when none is kept."""
        ...

    async def save(self, summary: OrderSummary) -> None:
        """Keep `summary` (replacing the order's previous one)."""
        ...

    async def decide(
        self, event: OrderWasConfirmed | OrderWasRejected, at: datetime.datetime
    ) -> bool:
        """Apply the order's outcome, decided `at`, to its summary (as `summarize` does);
        False, changing nothing, when no summary is kept."""
        ...

    async def of_customer(self, customer_id: str, limit: int) -> list[OrderSummary]:
        """The customer's `limit` latest orders, newest first."""
        ...


def summarize(
    previous: OrderSummary | None, event: OrderEvent, at: datetime.datetime
) -> OrderSummary:
    """The summary after `event` (which happened `at`), from the one before it.

    Raises `LookupError` for an event about an order that was never placed.
    """
    if isinstance(event, OrderWasPlaced):
        return OrderSummary(
            order_id=str(event.order_id),
            customer_id=event.customer_id,
            status=OrderStatus.PENDING,
            reason=None,
            total=event.total,
            item_count=event.item_count,
            placed_at=at,
            decided_at=None,
        )
    if previous is None:
        raise LookupError(f"order {event.order_id} has no summary: it was never placed")
    if isinstance(event, OrderWasConfirmed):
        return previous.model_copy(update={"status": OrderStatus.CONFIRMED, "decided_at": at})
    if isinstance(event, OrderWasRejected):
        return previous.model_copy(
            update={"status": OrderStatus.REJECTED, "reason": event.reason, "decided_at": at}
        )
    return previous


async def project(
    summaries: OrderSummaries, events: typing.Iterable[OrderEvent], at: datetime.datetime
) -> None:
    """Apply `events` (one order's, oldest first, all happening `at`) to the query model."""
    for event in events:
        # Neither reads the summary first: a placed order's is new, and an outcome
        # changes only the status, the reason and the time of the decision.
        if isinstance(event, OrderWasPlaced):
            await summaries.save(summarize(None, event, at))
        elif isinstance(event, OrderWasConfirmed | OrderWasRejected) and not (
            await summaries.decide(event, at)
        ):
            raise LookupError(f"order {event.order_id} has no summary: it was never placed")


class CustomerOrders(cqrs.Response):
    """A customer's latest orders, newest first."""

    customer_id: str
    orders: list[OrderSummary]


class ListCustomerOrders(cqrs.Request[CustomerOrders]):
    """Ask for the latest orders of `customer_id`."""

    customer_id: str = pydantic.Field(min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)


class ListCustomerOrdersHandler(cqrs.RequestHandler[ListCustomerOrders, CustomerOrders]):
    """Reads the query model."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    async def handle(self, request: ListCustomerOrders) -> CustomerOrders:
        async with self._unit_of_work() as work:
            orders = await work.summaries.of_customer(request.customer_id, MAX_LISTED_ORDERS)
        return CustomerOrders(customer_id=request.customer_id, orders=orders)
