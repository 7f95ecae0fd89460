r"""The orders service's bounded contract as pydantic types, declared once from the
domain's bounds (`orders.domain.limits`).

The HTTP API and the wire messages (`orders.adapters.messages`) are made of
these, so every bound is in the OpenAPI document and the messages' JSON
schemas, and checked where a value comes in. A text (an id, a sku) has no
control character (NUL, tab, newline...), is not only spaces and holds no lone
surrogate; a quantity is a JSON integer (`true`, `"3"` and `2.5` are refused,
`3.0` is 3, as JSON Schema has it);
a price is a JSON string of a decimal number from 0 to `MAX_UNIT_PRICE` with at
most two decimal places (`"12.50"`; a JSON number is refused: binary floats
cannot say every amount of cents).

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
import re
import typing

import pydantic

from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ID_LENGTH,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_UNIT_PRICE,
)

__all__ = (
    "PRICE_PATTERN",
    "TEXT_PATTERN",
    "CustomerId",
    "OrderId",
    "Quantity",
    "Sku",
    "UnitPrice",
)

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


def _whole_number(value: object) -> object:
    # JSON Schema counts 3.0 as an integer, so it is one here too; `true` and "3" are
    # not, and the strict validation after this refuses them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Quantity = typing.Annotated[
    int, pydantic.Field(strict=True, ge=1, le=MAX_QUANTITY), pydantic.BeforeValidator(_whole_number)
]
"""Units of one item of an order (one line of `reserve_stock`)."""
PRICE_PATTERN: typing.Final = r"^((0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?|1000000000(\.0{1,2})?)$"
"""0 to `MAX_UNIT_PRICE` (1,000,000,000), at most two decimal places, no sign or exponent."""
_PRICE: typing.Final = re.compile(PRICE_PATTERN)


def _price_text(value: object) -> object:
    # Code builds prices as Decimals: they meet the same rule as the JSON text.
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = format(value, "f")
    if not isinstance(value, str) or not _PRICE.fullmatch(value):
        raise ValueError(
            f"a price is a string of a number from 0 to {MAX_UNIT_PRICE:.0f} with at most two "
            f'decimal places, such as "12.50"'
        )
    return value


UnitPrice = typing.Annotated[
    decimal.Decimal,
    pydantic.BeforeValidator(_price_text),
    pydantic.WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["12.50"]}),
]
"""A price in the currency's units, to the cent, as a string (`PRICE_PATTERN`)."""
