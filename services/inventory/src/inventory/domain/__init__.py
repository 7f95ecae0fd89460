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
    StockLimitError,
)
from inventory.domain.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_ID_LENGTH,
    MAX_ORDER_LINES,
    MAX_SKU_LENGTH,
    MAX_STOCK_LEVEL,
    is_text,
)
from inventory.domain.reservation import (
    OrderLine,
    Rejected,
    Reservation,
    ReservationStatus,
    Reserved,
    release_order,
    reserve_order,
    sell_order,
)
from inventory.domain.stock import CENTS_PER_UNIT, Stock

__all__ = (
    "InventoryError",
    "InvalidOrderLinesError",
    "InvalidQuantityError",
    "InvalidSkuError",
    "StockLevelError",
    "StockLimitError",
    "CENTS_PER_UNIT",
    "MAX_LINE_QUANTITY",
    "MAX_ORDER_ID_LENGTH",
    "MAX_ORDER_LINES",
    "MAX_SKU_LENGTH",
    "MAX_STOCK_LEVEL",
    "is_text",
    "OrderLine",
    "Rejected",
    "Reservation",
    "ReservationStatus",
    "Reserved",
    "Stock",
    "release_order",
    "sell_order",
    "reserve_order",
)
