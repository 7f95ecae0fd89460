"""The inventory's bounds: the longest ids and skus, the largest orders and stock levels.

Every way in is declared from these numbers, once: the wire messages and the
HTTP API (`inventory.application.contract`, which OpenAPI shows) and the
tables; the domain's rules check them again.

| bound                 | value  | what                                                 |
|-----------------------|--------|------------------------------------------------------|
| `MAX_ORDER_ID_LENGTH` | 64     | characters of an order id (orders sends UUIDs)       |
| `MAX_SKU_LENGTH`      | 64     | characters of a sku                                  |
| `MAX_ORDER_LINES`     | 100    | lines of one order to reserve                        |
| `MAX_LINE_QUANTITY`   | 10,000 | units of one line                                    |
| `MAX_STOCK_LEVEL`     | 10^12  | units of one sku, available and reserved (64-bit)    |

Ids and skus are text: no control characters (NUL, tab, newline...), not only
spaces, no lone surrogates.

>>> is_text("green tea"), is_text("a\\x00b"), is_text("   "), is_text("\\ud800")
(True, False, False, False)
"""

from __future__ import annotations

import typing

__all__ = (
    "MAX_LINE_QUANTITY",
    "MAX_ORDER_ID_LENGTH",
    "MAX_ORDER_LINES",
    "MAX_SKU_LENGTH",
    "MAX_STOCK_LEVEL",
    "is_text",
)

MAX_ORDER_ID_LENGTH: typing.Final = 64
MAX_SKU_LENGTH: typing.Final = 64
MAX_ORDER_LINES: typing.Final = 100
MAX_LINE_QUANTITY: typing.Final = 10_000
MAX_STOCK_LEVEL: typing.Final = 10**12


def is_text(value: str) -> bool:
    """Whether `value` is text an id or sku may be: no control character, not blank,
    no lone surrogate (which no database or JSON encoder takes)."""
    return not value.isspace() and not any(
        character < " " or "\ud800" <= character <= "\udfff" for character in value
    )
