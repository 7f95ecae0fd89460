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
from orders.application.inventory import (
    RELEASE_STOCK,
    RESERVE_STOCK,
    STOCK_REJECTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
    StockLine,
)

__all__ = (
    "INVENTORY_COMMANDS",
    "INVENTORY_REPLIES",
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

# The payload models have no docstrings on purpose: a docstring becomes the
# "description" of the JSON schema that the contract test compares with
# inventory's copy. The table above documents them.


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

#: Every message, by wire name.
MESSAGES: typing.Final[typing.Mapping[str, type[cqrs.NotificationEvent[typing.Any]]]] = {
    RESERVE_STOCK: ReserveStock,
    RELEASE_STOCK: ReleaseStock,
    STOCK_RESERVED: StockReserved,
    STOCK_REJECTED: StockRejected,
    STOCK_RELEASED: StockReleased,
}

#: The replies the order saga waits for (`stock_released` is not waited for).
REPLIES: typing.Final = (StockReserved, StockRejected)


def register_messages() -> None:
    """Register `MESSAGES` in `cqrs.OutboxedEventMap`; calling it again is harmless.

    Not done at import, so that a test process may import both services' copies.
    """
    for name, event_type in MESSAGES.items():
        cqrs.OutboxedEventMap.register(name, event_type)


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
