"""The messages orders exchanges with inventory: wire models and their registration.

Each message is a `cqrs.NotificationEvent[Payload]` whose `event_name` is its
name on the wire; the inventory service keeps its own copy of these models
(a contract test compares the two). `register_messages()` records them in
`cqrs.OutboxedEventMap`, which both the outbox (commands out) and the Kafka
consumer (replies in) look names up in; the service calls it at start-up.

| name | topic | payload |
|---|---|---|
| `reserve_stock` | inventory.commands | `{"order_id", "items": [{"sku", "quantity"}]}` |
| `release_stock` | inventory.commands | `{"order_id"}` |
| `stock_reserved` | inventory.replies | `{"order_id"}` |
| `stock_rejected` | inventory.replies | `{"order_id", "reason", "skus"}` |
| `stock_released` | inventory.replies | `{"order_id"}` |
| `order_confirmed` | orders.events | `{"order_id", "items": [{"sku", "quantity", "unit_price"}]}` |
| `order_rejected` | orders.events | `{"order_id"}` |

`orders.events` is the orders service's own topic: the notifications of an
order's outcome (`order_notification` makes them from the order's domain
events), staged in the outbox with the outcome itself. Inventory consumes
them to sell a confirmed order's stock.

`order_confirmed` is a `cqrs.ECSTEvent`, an event-carried state transfer: it
carries the order's lines with their unit prices, so inventory keeps its own
revenue per sku without asking orders. `items` defaults to empty, so the
records already on the topic from before it was added still read (their sale
adds no revenue).

The bounds are the contract's (`orders.application.contract`): an order id
and a sku are text of 1 to 64 characters, an order has 1 to 100 items of 1 to
10,000 units each, and a rejection's `reason` is `insufficient_stock` or
`invalid_items`. Building a message outside them raises pydantic's
`ValidationError`, so orders never sends what inventory would refuse.

>>> from orders.application.inventory import StockLine
>>> command = InventoryMessages().reserve_stock("o-1", [StockLine("tea", 2)])
>>> command.event_name, command.topic
('reserve_stock', 'inventory.commands')
>>> command.payload.model_dump()
{'order_id': 'o-1', 'items': [{'sku': 'tea', 'quantity': 2}]}
"""

from __future__ import annotations

import typing

import pydantic

import cqrs
from cqrs.events.event import NotificationEvent
from orders.application.contract import OrderId, Quantity, Sku, UnitPrice
from orders.application.inventory import (
    RELEASE_STOCK,
    RESERVE_STOCK,
    STOCK_REJECTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
    StockLine,
)
from orders.domain.limits import MAX_ORDER_ITEMS
from orders.domain.order import Order, OrderEvent, OrderWasConfirmed, OrderWasRejected

__all__ = (
    "INVENTORY_COMMANDS",
    "INVENTORY_REPLIES",
    "ORDERS_EVENTS",
    "ORDER_CONFIRMED",
    "ORDER_REJECTED",
    "ConfirmedItem",
    "ConfirmedItems",
    "OrderConfirmed",
    "OrderConfirmedPayload",
    "OrderRejected",
    "OrderRejectedPayload",
    "order_notification",
    "OrderItems",
    "RejectionReason",
    "Skus",
    "StockItem",
    "ReserveStockPayload",
    "ReleaseStockPayload",
    "StockReservedPayload",
    "StockRejectedPayload",
    "StockReleasedPayload",
    "ReserveStock",
    "ReleaseStock",
    "StockReserved",
    "StockRejected",
    "StockReleased",
    "MESSAGES",
    "REPLIES",
    "register_messages",
    "InventoryMessages",
)

INVENTORY_COMMANDS: typing.Final = "inventory.commands"
INVENTORY_REPLIES: typing.Final = "inventory.replies"
ORDERS_EVENTS: typing.Final = "orders.events"
ORDER_CONFIRMED: typing.Final = "order_confirmed"
ORDER_REJECTED: typing.Final = "order_rejected"

# The payload models have no docstrings on purpose: a docstring becomes the
# "description" of the JSON schema that the contract test compares with
# inventory's copy. The table above documents them.


class StockItem(pydantic.BaseModel):
    sku: Sku
    quantity: Quantity


OrderItems = typing.Annotated[
    list[StockItem], pydantic.Field(min_length=1, max_length=MAX_ORDER_ITEMS)
]
Skus = typing.Annotated[list[Sku], pydantic.Field(max_length=MAX_ORDER_ITEMS)]
RejectionReason = typing.Literal["insufficient_stock", "invalid_items"]


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
    quantity: Quantity
    unit_price: UnitPrice


ConfirmedItems = typing.Annotated[list[ConfirmedItem], pydantic.Field(max_length=MAX_ORDER_ITEMS)]


class OrderConfirmedPayload(pydantic.BaseModel):
    order_id: OrderId
    items: ConfirmedItems = []


class OrderRejectedPayload(pydantic.BaseModel):
    order_id: OrderId


ReserveStock = cqrs.NotificationEvent[ReserveStockPayload]
ReleaseStock = cqrs.NotificationEvent[ReleaseStockPayload]
StockReserved = cqrs.NotificationEvent[StockReservedPayload]
StockRejected = cqrs.NotificationEvent[StockRejectedPayload]
StockReleased = cqrs.NotificationEvent[StockReleasedPayload]
OrderConfirmed = cqrs.ECSTEvent[OrderConfirmedPayload]
OrderRejected = cqrs.NotificationEvent[OrderRejectedPayload]

#: Every message, by wire name.
MESSAGES: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    RESERVE_STOCK: ReserveStock,
    RELEASE_STOCK: ReleaseStock,
    STOCK_RESERVED: StockReserved,
    STOCK_REJECTED: StockRejected,
    STOCK_RELEASED: StockReleased,
    ORDER_CONFIRMED: OrderConfirmed,
    ORDER_REJECTED: OrderRejected,
}

#: The replies the order saga waits for (`stock_released` is not waited for).
REPLIES: typing.Final = (StockReserved, StockRejected)


def register_messages() -> None:
    """Register `MESSAGES` in `cqrs.OutboxedEventMap`; calling it again is harmless.

    Not done at import, so that a test process may import both services' copies.
    """
    for name, event_type in MESSAGES.items():
        cqrs.OutboxedEventMap.register(name, event_type)


def order_notification(order: Order, event: OrderEvent) -> NotificationEvent[typing.Any] | None:
    """The notification on `orders.events` of `order`'s outcome `event`; `None` for the
    other domain events (a placed order is no news to anyone outside). A confirmation
    carries the order's lines and unit prices.

    >>> import decimal, uuid
    >>> from orders.domain.order import OrderItem, OrderWasConfirmed
    >>> order = Order.place("c-1", [OrderItem("tea", 2, decimal.Decimal("3.50"))])
    >>> notification = order_notification(order, OrderWasConfirmed(order.order_id))
    >>> notification.event_name, notification.topic
    ('order_confirmed', 'orders.events')
    >>> notification.payload.model_dump(mode="json")["items"]
    [{'sku': 'tea', 'quantity': 2, 'unit_price': '3.50'}]
    """
    order_id = str(event.order_id)
    if isinstance(event, OrderWasConfirmed):
        items = [
            ConfirmedItem(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price)
            for item in order.items
        ]
        return OrderConfirmed(
            event_name=ORDER_CONFIRMED,
            topic=ORDERS_EVENTS,
            payload=OrderConfirmedPayload(order_id=order_id, items=items),
        )
    if isinstance(event, OrderWasRejected):
        return OrderRejected(
            event_name=ORDER_REJECTED,
            topic=ORDERS_EVENTS,
            payload=OrderRejectedPayload(order_id=order_id),
        )
    return None


class InventoryMessages:
    """The application's `InventoryCommands`: commands for the `inventory.commands` topic."""

    def reserve_stock(self, order_id: str, lines: typing.Sequence[StockLine]) -> ReserveStock:
        payload = ReserveStockPayload(
            order_id=order_id,
            items=[StockItem(sku=line.sku, quantity=line.quantity) for line in lines],
        )
        return ReserveStock(event_name=RESERVE_STOCK, topic=INVENTORY_COMMANDS, payload=payload)

    def release_stock(self, order_id: str) -> ReleaseStock:
        payload = ReleaseStockPayload(order_id=order_id)
        return ReleaseStock(event_name=RELEASE_STOCK, topic=INVENTORY_COMMANDS, payload=payload)
