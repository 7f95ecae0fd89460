"""The inventory's domain: stock levels, reservations and the rules that move them.

Pure Python: no I/O, no framework. The application layer loads what a rule
needs, applies it and stores the result.
"""

from inventory.domain.errors import (
    InvalidOrderLinesError,
    InvalidQuantityError,
    InvalidSkuError,
    InventoryError,
    StockLevelError,
)
from inventory.domain.reservation import (
    OrderLine,
    Rejected,
    Reservation,
    ReservationStatus,
    Reserved,
    release_order,
    reserve_order,
)
from inventory.domain.stock import MAX_SKU_LENGTH, Stock

__all__ = (
    "InventoryError",
    "InvalidOrderLinesError",
    "InvalidQuantityError",
    "InvalidSkuError",
    "StockLevelError",
    "MAX_SKU_LENGTH",
    "OrderLine",
    "Rejected",
    "Reservation",
    "ReservationStatus",
    "Reserved",
    "Stock",
    "release_order",
    "reserve_order",
)
