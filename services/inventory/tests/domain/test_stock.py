from __future__ import annotations

import pytest

from inventory.domain import (
    MAX_SKU_LENGTH,
    MAX_STOCK_LEVEL,
    InvalidQuantityError,
    InvalidSkuError,
    Stock,
    StockLevelError,
    StockLimitError,
)


def test_restock_adds_to_available() -> None:
    stock = Stock("tea", available=2, reserved=1)
    stock.restock(5)
    assert (stock.available, stock.reserved) == (7, 1)


def test_hold_and_free_move_units_between_available_and_reserved() -> None:
    stock = Stock("tea", available=5)
    stock.hold(3)
    assert (stock.available, stock.reserved) == (2, 3)
    stock.free(2)
    assert (stock.available, stock.reserved) == (4, 1)


def test_holding_more_than_available_changes_nothing() -> None:
    stock = Stock("tea", available=2)
    with pytest.raises(StockLevelError, match="only 2 available"):
        stock.hold(3)
    assert (stock.available, stock.reserved) == (2, 0)


def test_freeing_more_than_reserved_changes_nothing() -> None:
    stock = Stock("tea", available=2, reserved=1)
    with pytest.raises(StockLevelError, match="only 1 reserved"):
        stock.free(2)
    assert (stock.available, stock.reserved) == (2, 1)


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5])
def test_quantities_are_whole_numbers_above_zero(quantity: object) -> None:
    stock = Stock("tea")
    for change in (stock.restock, stock.hold, stock.free):
        with pytest.raises(InvalidQuantityError, match="above zero"):
            change(quantity)  # type: ignore[arg-type]
    assert (stock.available, stock.reserved) == (0, 0)


@pytest.mark.parametrize(
    "sku", ["", "x" * (MAX_SKU_LENGTH + 1), "a\x00b", "tab\there", "   ", "\ud800"]
)
def test_a_sku_is_text_of_one_to_the_maximum_characters(sku: str) -> None:
    with pytest.raises(InvalidSkuError, match=f"1 to {MAX_SKU_LENGTH} characters"):
        Stock(sku)


def test_a_refused_sku_is_quoted_cut_short() -> None:
    with pytest.raises(InvalidSkuError) as raised:
        Stock("x" * 1_000_000)
    assert len(str(raised.value)) < 300


def test_restock_up_to_the_maximum_level_and_not_past_it() -> None:
    stock = Stock("tea", available=5, reserved=3)
    stock.restock(MAX_STOCK_LEVEL - 8)
    assert stock.available + stock.reserved == MAX_STOCK_LEVEL

    with pytest.raises(StockLimitError, match="room for 0 more"):
        stock.restock(1)
    assert (stock.available, stock.reserved) == (MAX_STOCK_LEVEL - 3, 3)
    stock.hold(10)  # the sku stays usable
    assert stock.reserved == 13


def test_selling_moves_held_units_to_sold_and_the_total_still_adds_up() -> None:
    stock = Stock("tea", available=5, reserved=3)

    stock.sell(2)

    assert (stock.available, stock.reserved, stock.sold) == (5, 1, 2)
    assert stock.available + stock.reserved + stock.sold == 8


def test_selling_more_than_is_held_is_refused_and_changes_nothing() -> None:
    stock = Stock("tea", available=5, reserved=1)

    with pytest.raises(StockLevelError, match="only 1 reserved"):
        stock.sell(2)

    assert (stock.available, stock.reserved, stock.sold) == (5, 1, 0)


def test_sold_units_leave_room_for_a_restock() -> None:
    stock = Stock("tea", available=0, reserved=0, sold=MAX_STOCK_LEVEL)

    stock.restock(MAX_STOCK_LEVEL)

    assert stock.available == MAX_STOCK_LEVEL
