r"""The orders service's bounded contract as pydantic types, declared once from the
domain's bounds (`orders.domain.limits`).

The HTTP API and the wire messages (`orders.adapters.messages`) are made of
these, so every bound is in the OpenAPI document and the messages' JSON
schemas, and checked where a value comes in. A text (an id, a sku) has no
control character (NUL, tab, newline...), is not only spaces and holds no lone
surrogate; a quantity is a JSON integer (`true`, `"3"` and `3.0` are refused);
a price has at most two decimal places.

>>> import pydantic
>>> def refusal(value: str) -> str:
...     try:
...         pydantic.TypeAdapter(CustomerId).validate_python(value)
...     except pydantic.ValidationError as error:
...         return error.errors()[0]["type"]
...     return "accepted"
>>> refusal("c-1"), refusal("x" * 65), refusal("\ud800")
('accepted', 'string_too_long', 'string_unicode')
>>> refusal("a\x00b"), refusal("   ")
('string_pattern_mismatch', 'string_pattern_mismatch')
"""

from __future__ import annotations

import decimal
import typing

import pydantic

from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ID_LENGTH,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE,
)

__all__ = ("TEXT_PATTERN", "CustomerId", "OrderId", "Quantity", "Sku", "UnitPrice")

TEXT_PATTERN: typing.Final = r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$"
"""Text without control characters that is not only spaces."""

CustomerId = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH, pattern=TEXT_PATTERN)
]
OrderId = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_ORDER_ID_LENGTH, pattern=TEXT_PATTERN)
]
Sku = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_SKU_LENGTH, pattern=TEXT_PATTERN)
]
Quantity = typing.Annotated[int, pydantic.Field(strict=True, ge=1, le=MAX_QUANTITY)]
"""Units of one item of an order (one line of `reserve_stock`)."""
UnitPrice = typing.Annotated[
    decimal.Decimal,
    pydantic.Field(ge=0, le=MAX_UNIT_PRICE, decimal_places=2, examples=["12.50"]),
]
"""A price in the currency's units, to the cent: `"12.50"` (a JSON number is taken too)."""
