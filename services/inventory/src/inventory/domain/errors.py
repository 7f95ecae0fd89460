"""The errors the inventory's rules raise.

```
InventoryError
├── InvalidQuantityError     a quantity that is not a whole number above zero
├── InvalidSkuError          an empty sku, or one longer than the inventory keeps
├── InvalidOrderLinesError   an order with no lines
└── StockLevelError          a change that would take a stock level below zero
```

>>> issubclass(InvalidQuantityError, ValueError)
True
"""

from __future__ import annotations

__all__ = (
    "InventoryError",
    "InvalidQuantityError",
    "InvalidSkuError",
    "InvalidOrderLinesError",
    "StockLevelError",
)


class InventoryError(Exception):
    """Base class of the inventory domain's errors."""


class InvalidQuantityError(InventoryError, ValueError):
    """A quantity was zero, negative or not a whole number; send one above zero."""


class InvalidSkuError(InventoryError, ValueError):
    """A sku was empty or longer than `inventory.domain.stock.MAX_SKU_LENGTH` characters."""


class InvalidOrderLinesError(InventoryError, ValueError):
    """An order to reserve had no lines; send at least one."""


class StockLevelError(InventoryError):
    """A change would take a sku's available or reserved quantity below zero.

    The reservation rules check levels before changing them, so this means a
    caller skipped them.
    """
