"""The messages inventory exchanges with the orders service over Kafka.

Each is a `cqrs.NotificationEvent` whose payload is one of the models below;
on the wire it is the event's dict as JSON, its name in `event_name`, and the
record key is the order id. The orders service keeps its own copy of these
models; a contract test compares the two.

| name             | topic                | sent by   | payload                                 |
|------------------|----------------------|-----------|-----------------------------------------|
| `reserve_stock`  | `inventory.commands` | orders    | `order_id`, `items` (`sku`, `quantity`) |
| `release_stock`  | `inventory.commands` | orders    | `order_id`                              |
| `stock_reserved` | `inventory.replies`  | inventory | `order_id`                              |
| `stock_rejected` | `inventory.replies`  | inventory | `order_id`, `reason`, `skus` (short)    |
| `stock_released` | `inventory.replies`  | inventory | `order_id`                              |

A rejection's `reason` is `insufficient_stock` (`INSUFFICIENT_STOCK`) and its
`skus` are the ones short of stock (an unknown sku has none).

The names are registered in `cqrs.OutboxedEventMap` by `register_messages()`,
called when the service is wired, not on import: the orders service registers
the same names for its own copies, and both may be imported by one process
(a test run, the contract test).

>>> event = ReserveStock(
...     event_name=RESERVE_STOCK,
...     topic="inventory.commands",
...     payload=ReserveStockPayload(order_id="o-1", items=[StockItem(sku="tea", quantity=2)]),
... )
>>> ReserveStock.from_dict(**event.to_dict()).payload.items[0].quantity
2
"""

from __future__ import annotations

import typing

import pydantic

import cqrs

__all__ = (
    "INSUFFICIENT_STOCK",
    "MESSAGES",
    "RELEASE_STOCK",
    "RESERVE_STOCK",
    "STOCK_REJECTED",
    "STOCK_RELEASED",
    "STOCK_RESERVED",
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
    "register_messages",
)

RESERVE_STOCK: typing.Final = "reserve_stock"
RELEASE_STOCK: typing.Final = "release_stock"
STOCK_RESERVED: typing.Final = "stock_reserved"
STOCK_REJECTED: typing.Final = "stock_rejected"
STOCK_RELEASED: typing.Final = "stock_released"

INSUFFICIENT_STOCK: typing.Final = "insufficient_stock"
"""The `reason` of a `stock_rejected` reply: some skus are short of stock."""


# The payload models have no docstrings: a docstring becomes the "description" of
# the JSON schema the contract test compares with the orders service's copy. The
# table above documents them.


class StockItem(pydantic.BaseModel):
    sku: str
    quantity: int


class ReserveStockPayload(pydantic.BaseModel):
    order_id: str
    items: list[StockItem]


class ReleaseStockPayload(pydantic.BaseModel):
    order_id: str


class StockReservedPayload(pydantic.BaseModel):
    order_id: str


class StockRejectedPayload(pydantic.BaseModel):
    order_id: str
    reason: str
    skus: list[str]


class StockReleasedPayload(pydantic.BaseModel):
    order_id: str


ReserveStock = cqrs.NotificationEvent[ReserveStockPayload]
ReleaseStock = cqrs.NotificationEvent[ReleaseStockPayload]
StockReserved = cqrs.NotificationEvent[StockReservedPayload]
StockRejected = cqrs.NotificationEvent[StockRejectedPayload]
StockReleased = cqrs.NotificationEvent[StockReleasedPayload]

MESSAGES: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    RESERVE_STOCK: ReserveStock,
    RELEASE_STOCK: ReleaseStock,
    STOCK_RESERVED: StockReserved,
    STOCK_REJECTED: StockRejected,
    STOCK_RELEASED: StockReleased,
}
"""Every message by name, as `cqrs.OutboxedEventMap` and the consumer decode them."""


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
