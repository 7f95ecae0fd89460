"""The errors the inventory's rules raise.

```
InventoryError
├── InvalidQuantityError     a quantity that is not a whole number in its range
├── InvalidSkuError          a sku that is empty, too long or not text
├── InvalidOrderLinesError   an order with no lines, too many, or a line that breaks a rule
├── StockLimitError          a restock that would take a sku above the most it may hold
└── StockLevelError          a change that would take a stock level below zero
```

>>> issubclass(InvalidQuantityError, ValueError)
True
"""

from __future__ import annotations

import typing

__all__ = (
    "InventoryError",
    "InvalidQuantityError",
    "InvalidSkuError",
    "InvalidOrderLinesError",
    "StockLimitError",
    "StockLevelError",
    "quoted",
)

#: How many characters of a refused value an error message quotes.
_QUOTED: typing.Final = 80


class InventoryError(Exception):
    """Base class of the inventory domain's errors."""


class InvalidQuantityError(InventoryError, ValueError):
    """A quantity was not a whole number in its range (above zero, and at most
    `MAX_LINE_QUANTITY` on an order line); the message says which."""


class InvalidSkuError(InventoryError, ValueError):
    """A sku was empty, longer than `MAX_SKU_LENGTH` characters, or not text
    (`inventory.domain.limits.is_text`)."""


class InvalidOrderLinesError(InventoryError, ValueError):
    """An order to reserve had no lines, more than `MAX_ORDER_LINES`, or a line
    breaking a rule; the message says which."""


class StockLimitError(InventoryError, ValueError):
    """A restock would take a sku's units (available and reserved) above
    `MAX_STOCK_LEVEL`; nothing changed, and the sku stays usable."""


class StockLevelError(InventoryError):
    """A change would take a sku's available or reserved quantity below zero.

    The reservation rules check levels before changing them, so this means a
    caller skipped them.
    """


def quoted(value: object) -> str:
    """`repr(value)`, cut short: a message never carries a huge input whole.

    >>> quoted("tea"), len(quoted("x" * 10_000)) < 120
    ("'tea'", True)
    """
    text = repr(value)
    return text if len(text) <= _QUOTED else f"{text[:_QUOTED]}… ({len(text)} characters)"
