"""`Stock`: how many units of one sku are free to reserve, held, and sold.

Units come in by a restock, move between `available` and `reserved`, and
leave `reserved` for `sold` when their order is confirmed, so
`available + reserved + sold` is always the total ever restocked. A sale may
add its amount (in cents, as the orders service priced it) to the sku's
`revenue_cents`. A restock
may not take the units in stock (`available + reserved`) above
`MAX_STOCK_LEVEL`.

>>> stock = Stock("tea")
>>> stock.restock(10)
>>> stock.hold(3)
>>> stock.available, stock.reserved
(7, 3)
>>> stock.free(3)
>>> stock.available, stock.reserved
(10, 0)
>>> stock.hold(4)
>>> stock.sell(4, revenue_cents=1400)
>>> stock.available, stock.reserved, stock.sold, stock.revenue_cents
(6, 0, 4, 1400)
"""

from __future__ import annotations

import dataclasses
import typing

from inventory.domain.errors import (
    InvalidQuantityError,
    InvalidSkuError,
    StockLevelError,
    StockLimitError,
    quoted,
)
from inventory.domain.limits import MAX_SKU_LENGTH, MAX_STOCK_LEVEL, is_text

__all__ = ("CENTS_PER_UNIT", "Stock", "check_sku", "positive_quantity")

CENTS_PER_UNIT: typing.Final = 100
"""Cents in one unit of the currency: revenue is counted in cents."""


def check_sku(sku: str) -> str:
    """`sku` itself when it is text of 1 to `MAX_SKU_LENGTH` characters; `InvalidSkuError`
    if not.

    >>> check_sku("tea")
    'tea'
    """
    if not isinstance(sku, str) or not 0 < len(sku) <= MAX_SKU_LENGTH or not is_text(sku):
        raise InvalidSkuError(
            f"a sku is text of 1 to {MAX_SKU_LENGTH} characters without control characters, "
            f"got {quoted(sku)}"
        )
    return sku


def positive_quantity(quantity: int) -> int:
    """`quantity` itself when it is a whole number above zero; `InvalidQuantityError` if not.

    >>> positive_quantity(2)
    2
    """
    # bool is an int to Python, but "True units" is a caller's bug.
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantityError(
            f"quantity must be a whole number above zero, got {quoted(quantity)}"
        )
    return quantity


@dataclasses.dataclass
class Stock:
    """The stock level of one sku."""

    sku: str
    available: int = 0
    reserved: int = 0
    sold: int = 0
    revenue_cents: int = 0

    def __post_init__(self) -> None:
        check_sku(self.sku)

    def restock(self, quantity: int) -> None:
        """Add `quantity` new units to `available`.

        Raises `StockLimitError`, changing nothing, when the sku's units would go
        above `MAX_STOCK_LEVEL`.
        """
        room = MAX_STOCK_LEVEL - self.available - self.reserved
        if positive_quantity(quantity) > room:
            raise StockLimitError(
                f"restocking {quantity} of {self.sku!r} would take it above {MAX_STOCK_LEVEL} "
                f"units, the most a sku holds; it has room for {room} more"
            )
        self.available += quantity

    def hold(self, quantity: int) -> None:
        """Move `quantity` units from `available` to `reserved`.

        Raises `StockLevelError` when fewer than `quantity` are available.
        """
        if positive_quantity(quantity) > self.available:
            raise StockLevelError(
                f"cannot hold {quantity} of {self.sku!r}: only {self.available} available; "
                f"check the level first (inventory.domain.reserve_order does)"
            )
        self.available -= quantity
        self.reserved += quantity

    def free(self, quantity: int) -> None:
        """Move `quantity` held units back from `reserved` to `available`.

        Raises `StockLevelError` when fewer than `quantity` are reserved.
        """
        self._take_held(quantity, "free", "release_order")
        self.available += quantity

    def sell(self, quantity: int, revenue_cents: int = 0) -> None:
        """Move `quantity` held units from `reserved` to `sold`: their order went through;
        add what they were sold for (`revenue_cents`, 0 when unknown) to `revenue_cents`.

        Raises `StockLevelError` when fewer than `quantity` are reserved, or
        `InvalidQuantityError` for a negative amount; either changes nothing.
        """
        if isinstance(revenue_cents, bool) or revenue_cents < 0:
            raise InvalidQuantityError(
                f"a sale's revenue is a whole number of cents from 0, got {quoted(revenue_cents)}"
            )
        self._take_held(quantity, "sell", "sell_order")
        self.sold += quantity
        self.revenue_cents += revenue_cents

    def _take_held(self, quantity: int, verb: str, rule: str) -> None:
        if positive_quantity(quantity) > self.reserved:
            raise StockLevelError(
                f"cannot {verb} {quantity} of {self.sku!r}: only {self.reserved} reserved; "
                f"{verb} what a reservation holds (inventory.domain.{rule} does)"
            )
        self.reserved -= quantity
