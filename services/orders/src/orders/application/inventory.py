"""The inventory service as the order saga sees it: the commands it sends, the replies it waits for.

The wire models behind these names live in `orders.adapters.messages`; the saga
only needs the names and an `InventoryCommands` that builds the commands.
"""

from __future__ import annotations

import dataclasses
import typing

from cqrs.events.event import NotificationEvent

__all__ = (
    "RESERVE_STOCK",
    "RELEASE_STOCK",
    "STOCK_RESERVED",
    "STOCK_REJECTED",
    "STOCK_RELEASED",
    "StockLine",
    "InventoryCommands",
)

RESERVE_STOCK: typing.Final = "reserve_stock"
RELEASE_STOCK: typing.Final = "release_stock"
STOCK_RESERVED: typing.Final = "stock_reserved"
STOCK_REJECTED: typing.Final = "stock_rejected"
STOCK_RELEASED: typing.Final = "stock_released"


@dataclasses.dataclass
class StockLine:
    """A quantity of one SKU to reserve."""

    sku: str
    quantity: int


class InventoryCommands(typing.Protocol):
    """Builds the commands sent to the inventory, ready for the outbox."""

    def reserve_stock(
        self, order_id: str, lines: typing.Sequence[StockLine]
    ) -> NotificationEvent[typing.Any]:
        """A `reserve_stock` command for all of `lines`, all or nothing."""
        ...

    def release_stock(self, order_id: str) -> NotificationEvent[typing.Any]:
        """A `release_stock` command giving back what the order reserved."""
        ...
