"""The messages inventory exchanges with the orders service over Kafka.

Each is a `cqrs.NotificationEvent` whose payload is one of the models below;
on the wire it is the event's dict as JSON, its name in `event_name`, and the
record key is the order id. The orders service keeps its own copy of these
models; a contract test checks that the two say the same, bounds included.

| name             | topic                | sent by   | payload                                 |
|------------------|----------------------|-----------|-----------------------------------------|
| `reserve_stock`  | `inventory.commands` | orders    | `order_id`, `items` (`sku`, `quantity`) |
| `release_stock`  | `inventory.commands` | orders    | `order_id`                              |
| `stock_reserved` | `inventory.replies`  | inventory | `order_id`                              |
| `stock_rejected` | `inventory.replies`  | inventory | `order_id`, `reason`, `skus`            |
| `stock_released` | `inventory.replies`  | inventory | `order_id`                              |
| `order_confirmed`| `orders.events`      | orders    | `order_id`, `items` (+ `unit_price`)    |
| `order_rejected` | `orders.events`      | orders    | `order_id`                              |

`order_confirmed` and `order_rejected` are the orders service's notifications
of an order's outcome (on its own topic, which inventory consumes as
`ORDER_EVENTS`): inventory sells a confirmed order's held units, and frees a
rejected one's. `order_confirmed` is a `cqrs.ECSTEvent`: it carries the
order's lines with their unit prices, so inventory keeps the revenue of each
sku's sold units without asking orders. A record from before `items` was
added reads with no items (its sale adds no revenue).

The bounds are the contract's (`inventory.application.contract`): an order id
and a sku are text of 1 to 64 characters, an order has 1 to 100 items of 1 to
10,000 units each. A rejection's `reason` is `insufficient_stock` (`skus` are
the ones short of stock; an unknown sku has none) or `invalid_items` (the
items break those bounds; `skus` is empty).

The consumer reads `reserve_stock` as `IncomingReserveStock`, which needs only
a readable order id: a command without one cannot be answered and is refused
as undecodable (the consumer dead-letters it); its items are checked against
the contract afterwards (`IncomingReserveStockPayload.lines`), so a command
whose items break it is answered `invalid_items` instead.

The names are registered in `cqrs.OutboxedEventMap` by `register_messages()`,
called when the service is wired, not on import: the orders service registers
the same names for its own copies, and both may be imported by one process
(a test run, the contract test).

>>> event = ReserveStock(
...     event_name=RESERVE_STOCK,
...     topic="inventory.commands",
...     payload=ReserveStockPayload(order_id="o-1", items=[StockItem(sku="tea", quantity=2)]),
... )
>>> IncomingReserveStock.from_dict(**event.to_dict()).payload.lines()
[OrderLine(sku='tea', quantity=2)]
"""

from __future__ import annotations

import typing

import pydantic

import cqrs
from inventory.application.contract import LineQuantity, OrderId, Sku, UnitPrice
from inventory.domain import CENTS_PER_UNIT, MAX_ORDER_LINES, InvalidOrderLinesError, OrderLine

__all__ = (
    "COMMANDS",
    "ORDER_CONFIRMED",
    "ORDER_EVENTS",
    "ORDER_REJECTED",
    "OrderConfirmed",
    "OrderConfirmedPayload",
    "OrderRejected",
    "OrderRejectedPayload",
    "INSUFFICIENT_STOCK",
    "INVALID_ITEMS",
    "MESSAGES",
    "RELEASE_STOCK",
    "RESERVE_STOCK",
    "STOCK_REJECTED",
    "STOCK_RELEASED",
    "STOCK_RESERVED",
    "IncomingReserveStock",
    "IncomingReserveStockPayload",
    "ConfirmedItem",
    "ConfirmedItems",
    "OrderItems",
    "RejectionReason",
    "ReleaseStock",
    "ReleaseStockPayload",
    "ReserveStock",
    "ReserveStockPayload",
    "StockItem",
    "StockRejected",
    "StockRejectedPayload",
    "StockReleased",
    "StockReleasedPayload",
    "StockReserved",
    "StockReservedPayload",
    "Skus",
    "register_messages",
)

RESERVE_STOCK: typing.Final = "reserve_stock"
RELEASE_STOCK: typing.Final = "release_stock"
STOCK_RESERVED: typing.Final = "stock_reserved"
STOCK_REJECTED: typing.Final = "stock_rejected"
STOCK_RELEASED: typing.Final = "stock_released"
ORDER_CONFIRMED: typing.Final = "order_confirmed"
ORDER_REJECTED: typing.Final = "order_rejected"

INSUFFICIENT_STOCK: typing.Final = "insufficient_stock"
"""The `reason` of a `stock_rejected` reply: some skus are short of stock."""
INVALID_ITEMS: typing.Final = "invalid_items"
"""The `reason` of a `stock_rejected` reply: the items break the contract."""

RejectionReason = typing.Literal["insufficient_stock", "invalid_items"]


# The payload models have no docstrings: a docstring becomes the "description" of
# the JSON schema the contract test compares with the orders service's copy. The
# table above documents them.


class StockItem(pydantic.BaseModel):
    sku: Sku
    quantity: LineQuantity


OrderItems = typing.Annotated[
    list[StockItem], pydantic.Field(min_length=1, max_length=MAX_ORDER_LINES)
]
Skus = typing.Annotated[list[Sku], pydantic.Field(max_length=MAX_ORDER_LINES)]


class ReserveStockPayload(pydantic.BaseModel):
    order_id: OrderId
    items: OrderItems


class ReleaseStockPayload(pydantic.BaseModel):
    order_id: OrderId


class StockReservedPayload(pydantic.BaseModel):
    order_id: OrderId


class StockRejectedPayload(pydantic.BaseModel):
    order_id: OrderId
    reason: RejectionReason
    skus: Skus


class StockReleasedPayload(pydantic.BaseModel):
    order_id: OrderId


class ConfirmedItem(pydantic.BaseModel):
    sku: Sku
    quantity: LineQuantity
    unit_price: UnitPrice


ConfirmedItems = typing.Annotated[list[ConfirmedItem], pydantic.Field(max_length=MAX_ORDER_LINES)]


class OrderConfirmedPayload(pydantic.BaseModel):
    order_id: OrderId
    items: ConfirmedItems = []

    def revenue_cents(self) -> dict[str, int]:
        """The order's amount per sku, in cents (empty for a record without items).

        >>> item = ConfirmedItem(sku="tea", quantity=2, unit_price="3.50")
        >>> OrderConfirmedPayload(order_id="o-1", items=[item, item]).revenue_cents()
        {'tea': 1400}
        """
        revenue: dict[str, int] = {}
        for item in self.items:
            cents = int(item.unit_price * CENTS_PER_UNIT) * item.quantity
            revenue[item.sku] = revenue.get(item.sku, 0) + cents
        return revenue


class OrderRejectedPayload(pydantic.BaseModel):
    order_id: OrderId


ReserveStock = cqrs.NotificationEvent[ReserveStockPayload]
ReleaseStock = cqrs.NotificationEvent[ReleaseStockPayload]
StockReserved = cqrs.NotificationEvent[StockReservedPayload]
StockRejected = cqrs.NotificationEvent[StockRejectedPayload]
StockReleased = cqrs.NotificationEvent[StockReleasedPayload]
OrderConfirmed = cqrs.ECSTEvent[OrderConfirmedPayload]
OrderRejected = cqrs.NotificationEvent[OrderRejectedPayload]

MESSAGES: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    RESERVE_STOCK: ReserveStock,
    RELEASE_STOCK: ReleaseStock,
    STOCK_RESERVED: StockReserved,
    STOCK_REJECTED: StockRejected,
    STOCK_RELEASED: StockReleased,
    ORDER_CONFIRMED: OrderConfirmed,
    ORDER_REJECTED: OrderRejected,
}
"""Every message by name, as the contract states them (`cqrs.OutboxedEventMap` holds these)."""

_ORDER_ITEMS: typing.Final = pydantic.TypeAdapter(OrderItems)


class IncomingReserveStockPayload(pydantic.BaseModel):
    """`reserve_stock` as the consumer reads it: a readable order id, and items that
    `lines()` checks against the contract (`ReserveStockPayload.items`)."""

    order_id: OrderId
    items: pydantic.JsonValue

    def lines(self) -> list[OrderLine]:
        """The order's lines; `InvalidOrderLinesError` when the items break the contract.

        >>> payload = IncomingReserveStockPayload(order_id="o-1", items=[{"sku": "tea"}])
        >>> payload.lines()
        Traceback (most recent call last):
          ...
        inventory.domain.errors.InvalidOrderLinesError: the items break the contract: \
1 issue, the first at items.0.quantity (missing)
        """
        try:
            items = _ORDER_ITEMS.validate_python(self.items)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in ("items", *first["loc"]))
            count = exc.error_count()
            raise InvalidOrderLinesError(
                f"the items break the contract: {count} issue{'s' if count > 1 else ''}, "
                f"the first at {where} ({first['type']})"
            ) from None
        return [OrderLine(item.sku, item.quantity) for item in items]


IncomingReserveStock = cqrs.NotificationEvent[IncomingReserveStockPayload]

COMMANDS: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    RESERVE_STOCK: IncomingReserveStock,
    RELEASE_STOCK: ReleaseStock,
}
"""The commands as the consumer decodes them."""

ORDER_EVENTS: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    ORDER_CONFIRMED: OrderConfirmed,
    ORDER_REJECTED: OrderRejected,
}
"""The orders service's notifications as the consumer decodes them."""


def register_messages() -> None:
    """Register `MESSAGES` in `cqrs.OutboxedEventMap` (again is harmless).

    >>> from cqrs.testing import registered_outbox_events
    >>> with registered_outbox_events():
    ...     register_messages()
    ...     cqrs.OutboxedEventMap.get("stock_reserved") is StockReserved
    True
    """
    for name, event_type in MESSAGES.items():
        cqrs.OutboxedEventMap.register(name, event_type)
