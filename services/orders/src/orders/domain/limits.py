"""The orders service's bounds: the longest ids and skus, the largest orders.

Every way in is declared from these numbers, once: the HTTP API and the wire
messages (`orders.application.contract`, which OpenAPI and the messages' JSON
schemas show); the domain's rules check them again. The inventory service
keeps the same bounds for the messages both exchange (a contract test checks).

| bound                    | value         | what                                         |
|--------------------------|---------------|----------------------------------------------|
| `MAX_CUSTOMER_ID_LENGTH` | 64            | characters of a customer id                  |
| `MAX_ORDER_ID_LENGTH`    | 64            | characters of an order id in a message       |
| `MAX_SKU_LENGTH`         | 64            | characters of a sku                          |
| `MAX_ORDER_ITEMS`        | 100           | items of one order                           |
| `MAX_QUANTITY`           | 10,000        | units of one item                            |
| `MAX_UNIT_PRICE`         | 1,000,000,000 | the price of one unit, to the cent           |

Ids and skus are text: no control characters (NUL, tab, newline...), not only
spaces.
"""

from __future__ import annotations

import decimal
import typing

__all__ = (
    "MAX_CUSTOMER_ID_LENGTH",
    "MAX_ORDER_ID_LENGTH",
    "MAX_ORDER_ITEMS",
    "MAX_QUANTITY",
    "MAX_SKU_LENGTH",
    "MAX_UNIT_PRICE",
)

MAX_CUSTOMER_ID_LENGTH: typing.Final = 64
MAX_ORDER_ID_LENGTH: typing.Final = 64
MAX_SKU_LENGTH: typing.Final = 64
MAX_ORDER_ITEMS: typing.Final = 100
MAX_QUANTITY: typing.Final = 10_000
MAX_UNIT_PRICE: typing.Final = decimal.Decimal("1000000000.00")
