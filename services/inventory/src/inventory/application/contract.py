r"""The inventory's bounded contract as pydantic types, declared once from the domain's
bounds (`inventory.domain.limits`).

The wire messages (`inventory.adapters.messages`) and the HTTP API are made of
these, so every bound is in their JSON schemas and OpenAPI document, and
checked where a value comes in. A text (an id, a sku) has no control
character (NUL, tab, newline...), is not only spaces and holds no lone
surrogate; an integer is a JSON integer (`true`, `"3"` and `2.5` are refused,
`3.0` is 3, as JSON Schema has it).

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

import typing

import pydantic

from inventory.domain.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_ID_LENGTH,
    MAX_SKU_LENGTH,
    MAX_STOCK_LEVEL,
)

__all__ = (
    "TEXT_PATTERN",
    "LineQuantity",
    "OrderId",
    "RestockQuantity",
    "Sku",
    "SoldUnits",
    "StockLevel",
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
