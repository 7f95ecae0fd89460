r"""The inventory's bounded contract as pydantic types, declared once from the domain's
bounds (`inventory.domain.limits`).

The wire messages (`inventory.adapters.messages`) and the HTTP API are made of
these, so every bound is in their JSON schemas and OpenAPI document, and
checked where a value comes in. A text (an id, a sku) has no control
character (NUL, tab, newline...), is not only spaces and holds no lone
surrogate; an integer is a JSON integer (`true`, `"3"` and `2.5` are refused,
`3.0` is 3, as JSON Schema has it). A unit price (which `order_confirmed` carries)
is a JSON string of a decimal number from 0 to 1,000,000,000 with at most two
decimal places (`"12.50"`), as the orders service states it.

>>> import pydantic
>>> def refusal(value: str) -> str:
...     try:
...         pydantic.TypeAdapter(Sku).validate_python(value)
...     except pydantic.ValidationError as error:
...         return error.errors()[0]["type"]
...     return "accepted"
>>> refusal("green tea"), refusal("x" * 65), refusal("\ud800")
('accepted', 'string_too_long', 'string_unicode')
>>> refusal("a\x00b"), refusal("   ")
('string_pattern_mismatch', 'string_pattern_mismatch')
"""

from __future__ import annotations

import decimal
import re
import typing

import pydantic

from inventory.domain.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_ID_LENGTH,
    MAX_SKU_LENGTH,
    MAX_STOCK_LEVEL,
)

__all__ = (
    "PRICE_PATTERN",
    "TEXT_PATTERN",
    "LineQuantity",
    "OrderId",
    "RestockQuantity",
    "Sku",
    "SoldUnits",
    "StockLevel",
    "UnitPrice",
)

TEXT_PATTERN: typing.Final = r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$"
"""Text without control characters that is not only spaces (`inventory.domain.is_text`)."""

Sku = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_SKU_LENGTH, pattern=TEXT_PATTERN)
]
OrderId = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_ORDER_ID_LENGTH, pattern=TEXT_PATTERN)
]


def _whole_number(value: object) -> object:
    # JSON Schema counts 3.0 as an integer, so it is one here too; `true` and "3" are
    # not, and the strict validation after this refuses them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


LineQuantity = typing.Annotated[
    int,
    pydantic.Field(strict=True, ge=1, le=MAX_LINE_QUANTITY),
    pydantic.BeforeValidator(_whole_number),
]
"""Units of one line of an order."""
RestockQuantity = typing.Annotated[
    int,
    pydantic.Field(strict=True, ge=1, le=MAX_STOCK_LEVEL),
    pydantic.BeforeValidator(_whole_number),
]
"""Units one restock adds."""
StockLevel = typing.Annotated[int, pydantic.Field(ge=0, le=MAX_STOCK_LEVEL)]
"""Units of a sku available, or reserved."""
SoldUnits = typing.Annotated[int, pydantic.Field(ge=0)]
"""Units of a sku sold: they left the stock, so `MAX_STOCK_LEVEL` does not bound them."""
PRICE_PATTERN: typing.Final = r"^((0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?|1000000000(\.0{1,2})?)$"
"""0 to 1,000,000,000, at most two decimal places, no sign or exponent (the orders
service's bound on a unit price)."""
_PRICE: typing.Final = re.compile(PRICE_PATTERN)


def _price_text(value: object) -> object:
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = format(value, "f")
    if not isinstance(value, str) or not _PRICE.fullmatch(value):
        raise ValueError(
            "a price is a string of a number from 0 to 1000000000 with at most two decimal "
            'places, such as "12.50"'
        )
    return value


UnitPrice = typing.Annotated[
    decimal.Decimal,
    pydantic.BeforeValidator(_price_text),
    pydantic.WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["12.50"]}),
]
"""The price of one unit of an order's line, to the cent, as a string (`PRICE_PATTERN`)."""
