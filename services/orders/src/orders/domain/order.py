"""An order: a customer's items, their total, and whether the order went through.

An order is placed `pending`; its saga ends it `confirmed` or `rejected` with a
reason. Money is exact: prices are `Decimal`s with at most two decimal places
(cents), so totals never drift.

>>> from decimal import Decimal
>>> order = Order.place("c-1", [OrderItem("tea", 2, Decimal("3.5"))])
>>> order.status.value, order.total
('pending', Decimal('7.00'))
>>> order.reject(RejectionReason.PAYMENT_DECLINED)
>>> order.status.value, order.reason.value
('rejected', 'payment_declined')

Each change records a domain event (`OrderWasPlaced`, `OrderWasConfirmed`,
`OrderWasRejected`); whoever stores the order takes them with `pull_events`
(the read side is built from them):

>>> [type(event).__name__ for event in order.pull_events()]
['OrderWasPlaced', 'OrderWasRejected']
>>> order.pull_events()
[]
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import typing
import uuid

from orders.domain.errors import InvalidOrderError, OrderStateError
from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ITEMS,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE,
)

__all__ = (
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderStatus",
    "OrderWasConfirmed",
    "OrderWasPlaced",
    "OrderWasRejected",
    "RejectionReason",
)

CENT: typing.Final = decimal.Decimal("0.01")


class OrderStatus(str, enum.Enum):
    """Where an order stands: `pending` until its saga ends it `confirmed` or `rejected`."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class RejectionReason(str, enum.Enum):
    """Why an order was rejected."""

    #: The inventory could not reserve every item.
    INSUFFICIENT_STOCK = "insufficient_stock"
    #: The inventory refused the items as breaking the contract (none, too many, a bad
    #: sku or quantity); orders never sends such items itself.
    INVALID_ITEMS = "invalid_items"
    #: The payment was declined (the total is above the customer's credit).
    PAYMENT_DECLINED = "payment_declined"
    #: The inventory did not answer in time.
    INVENTORY_TIMEOUT = "inventory_timeout"
    #: A step failed unexpectedly (a bug or an outage); the logs say which.
    INTERNAL_ERROR = "internal_error"


@dataclasses.dataclass(frozen=True)
class OrderItem:
    """A quantity of one SKU at a unit price; the price is kept to the cent.

    >>> OrderItem("tea", 3, decimal.Decimal("1.5")).subtotal
    Decimal('4.50')
    """

    sku: str
    quantity: int
    unit_price: decimal.Decimal

    def __post_init__(self) -> None:
        if not self.sku.strip():
            raise InvalidOrderError("an item's sku must not be empty")
        if len(self.sku) > MAX_SKU_LENGTH:
            raise InvalidOrderError(f"a sku has at most {MAX_SKU_LENGTH} characters")
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise InvalidOrderError(
                f"the quantity of {self.sku!r} must be a whole number from 1 to {MAX_QUANTITY}, "
                f"got {self.quantity!r}"
            )
        # Stored in cents, so normalise it now: what is read back equals what was placed.
        object.__setattr__(self, "unit_price", _cents(self.sku, self.unit_price))

    @property
    def subtotal(self) -> decimal.Decimal:
        """`quantity * unit_price`."""
        return self.quantity * self.unit_price


@dataclasses.dataclass(frozen=True)
class OrderEvent:
    """Something that happened to an order (a domain event)."""

    order_id: uuid.UUID


@dataclasses.dataclass(frozen=True)
class OrderWasPlaced(OrderEvent):
    """The order was placed, pending."""

    customer_id: str
    total: decimal.Decimal
    item_count: int


@dataclasses.dataclass(frozen=True)
class OrderWasConfirmed(OrderEvent):
    """The order went through."""


@dataclasses.dataclass(frozen=True)
class OrderWasRejected(OrderEvent):
    """The order was rejected for `reason`."""

    reason: RejectionReason


@dataclasses.dataclass
class Order:
    """An order and its outcome; build a new one with `Order.place`.

    The constructor checks every rule, so an order read back from storage is
    as valid as one just placed.
    """

    order_id: uuid.UUID
    customer_id: str
    items: tuple[OrderItem, ...]
    status: OrderStatus = OrderStatus.PENDING
    reason: RejectionReason | None = None
    _events: list[OrderEvent] = dataclasses.field(
        default_factory=list[OrderEvent], init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.customer_id.strip():
            raise InvalidOrderError("customer_id must not be empty")
        if len(self.customer_id) > MAX_CUSTOMER_ID_LENGTH:
            raise InvalidOrderError(f"customer_id has at most {MAX_CUSTOMER_ID_LENGTH} characters")
        if not 0 < len(self.items) <= MAX_ORDER_ITEMS:
            raise InvalidOrderError(
                f"an order needs at least one item and at most {MAX_ORDER_ITEMS}"
            )
        if (self.status is OrderStatus.REJECTED) != (self.reason is not None):
            raise InvalidOrderError("a rejected order has a reason, and only a rejected one")

    @classmethod
    def place(
        cls,
        customer_id: str,
        items: typing.Iterable[OrderItem],
        *,
        order_id: uuid.UUID | None = None,
    ) -> Order:
        """A new pending order (with a fresh id unless one is given).

        Raises `InvalidOrderError` when a rule is broken.
        """
        order = cls(order_id or uuid.uuid4(), customer_id, tuple(items))
        order._events.append(
            OrderWasPlaced(order.order_id, customer_id, order.total, len(order.items))
        )
        return order

    def pull_events(self) -> list[OrderEvent]:
        """The domain events recorded since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    @property
    def total(self) -> decimal.Decimal:
        """The sum of the items' subtotals, to the cent."""
        return sum((item.subtotal for item in self.items), decimal.Decimal("0.00"))

    @property
    def is_decided(self) -> bool:
        """Whether the order is `confirmed` or `rejected` (it never changes again)."""
        return self.status is not OrderStatus.PENDING

    def confirm(self) -> None:
        """Mark the order confirmed; nothing happens if it is already.

        Raises `OrderStateError` for a rejected order.
        """
        if self.status is OrderStatus.REJECTED:
            raise OrderStateError(f"order {self.order_id} was rejected; it cannot be confirmed")
        if self.status is OrderStatus.PENDING:
            self.status = OrderStatus.CONFIRMED
            self._events.append(OrderWasConfirmed(self.order_id))

    def reject(self, reason: RejectionReason) -> None:
        """Mark the order rejected for `reason`; a rejected order keeps its first reason.

        Raises `OrderStateError` for a confirmed order.
        """
        if self.status is OrderStatus.CONFIRMED:
            raise OrderStateError(f"order {self.order_id} was confirmed; it cannot be rejected")
        if self.status is OrderStatus.PENDING:
            self.status, self.reason = OrderStatus.REJECTED, reason
            self._events.append(OrderWasRejected(self.order_id, reason))


def _cents(sku: str, price: decimal.Decimal) -> decimal.Decimal:
    """`price` with exactly two decimal places; `InvalidOrderError` unless that is exact."""
    if not price.is_finite() or not 0 <= price <= MAX_UNIT_PRICE:
        raise InvalidOrderError(
            f"the unit price of {sku!r} must be from 0 to {MAX_UNIT_PRICE}, got {price}"
        )
    cents = price.quantize(CENT)
    if cents != price:
        raise InvalidOrderError(
            f"the unit price of {sku!r} has more than two decimal places ({price}); "
            f"give it in cents at most"
        )
    return cents
