from __future__ import annotations

import pytest

from inventory.domain import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_LINES,
    InvalidOrderLinesError,
    InvalidQuantityError,
    OrderLine,
    Rejected,
    Reservation,
    ReservationStatus,
    Reserved,
    Stock,
    release_order,
    reserve_order,
    sell_order,
)


def shelf(**available: int) -> dict[str, Stock]:
    return {sku: Stock(sku, available=units) for sku, units in available.items()}


def test_reserving_holds_every_line() -> None:
    stock = shelf(tea=5, cup=2)
    outcome = reserve_order("o-1", [OrderLine("tea", 2), OrderLine("cup", 2)], stock, existing=())
    assert outcome == Reserved(made=(Reservation("o-1", "cup", 2), Reservation("o-1", "tea", 2)))
    assert (stock["tea"].available, stock["tea"].reserved) == (3, 2)
    assert (stock["cup"].available, stock["cup"].reserved) == (0, 2)


def test_one_short_line_rejects_the_whole_order_and_holds_nothing() -> None:
    stock = shelf(tea=5, cup=1)
    outcome = reserve_order("o-1", [OrderLine("tea", 2), OrderLine("cup", 2)], stock, existing=())
    assert outcome == Rejected(skus=("cup",))
    assert [(s.available, s.reserved) for s in stock.values()] == [(5, 0), (1, 0)]


def test_an_unknown_sku_has_nothing_available() -> None:
    outcome = reserve_order("o-1", [OrderLine("kettle", 1)], shelf(), existing=())
    assert outcome == Rejected(skus=("kettle",))


def test_lines_of_one_sku_are_added_up() -> None:
    stock = shelf(tea=3)
    lines = [OrderLine("tea", 2), OrderLine("tea", 2)]
    assert reserve_order("o-1", lines, stock, existing=()) == Rejected(skus=("tea",))
    stock["tea"].restock(1)
    outcome = reserve_order("o-1", lines, stock, existing=())
    assert outcome == Reserved(made=(Reservation("o-1", "tea", 4),))


@pytest.mark.parametrize("status", list(ReservationStatus))
def test_an_order_with_reservations_is_not_reserved_again(status: ReservationStatus) -> None:
    stock = shelf(tea=5)
    existing = [Reservation("o-1", "tea", 2, status)]
    outcome = reserve_order("o-1", [OrderLine("tea", 2)], stock, existing)
    assert outcome == Reserved(made=())
    assert (stock["tea"].available, stock["tea"].reserved) == (5, 0)


def test_an_order_needs_a_line() -> None:
    with pytest.raises(InvalidOrderLinesError, match="needs 1 to 100 lines, got 0"):
        reserve_order("o-1", [], shelf(tea=1), existing=())


def test_an_order_has_at_most_the_maximum_of_lines() -> None:
    stock = shelf(tea=MAX_ORDER_LINES + 1)
    lines = [OrderLine("tea", 1)] * (MAX_ORDER_LINES + 1)

    with pytest.raises(InvalidOrderLinesError, match=f"got {MAX_ORDER_LINES + 1}"):
        reserve_order("o-1", lines, stock, existing=())
    assert stock["tea"].reserved == 0
    reserve_order("o-1", lines[1:], stock, existing=())
    assert stock["tea"].reserved == MAX_ORDER_LINES


def test_a_line_holds_at_most_the_maximum_quantity() -> None:
    assert OrderLine("tea", MAX_LINE_QUANTITY).quantity == MAX_LINE_QUANTITY
    with pytest.raises(InvalidQuantityError, match=f"at most {MAX_LINE_QUANTITY} units"):
        OrderLine("tea", MAX_LINE_QUANTITY + 1)


def test_releasing_gives_the_held_units_back_once() -> None:
    stock = shelf(tea=5)
    outcome = reserve_order("o-1", [OrderLine("tea", 2)], stock, existing=())
    assert isinstance(outcome, Reserved)
    released = release_order(outcome.made, stock)
    assert [r.status for r in released] == [ReservationStatus.RELEASED]
    assert (stock["tea"].available, stock["tea"].reserved) == (5, 0)
    assert release_order(outcome.made, stock) == ()
    assert (stock["tea"].available, stock["tea"].reserved) == (5, 0)


def test_a_reservation_frees_only_its_own_sku() -> None:
    with pytest.raises(ValueError, match="cannot move units of 'cup'"):
        Reservation("o-1", "tea", 1).release(Stock("cup", reserved=1))


def test_selling_an_order_sells_its_held_reservations_once_and_never_frees_them() -> None:
    stock = {"tea": Stock("tea", available=5)}
    outcome = reserve_order("o-1", [OrderLine("tea", 2)], stock, existing=())
    assert isinstance(outcome, Reserved)
    made = outcome.made

    sold = sell_order(made, stock)

    assert [r.status for r in sold] == [ReservationStatus.SOLD]
    assert (stock["tea"].available, stock["tea"].reserved, stock["tea"].sold) == (3, 0, 2)
    assert sell_order(made, stock) == ()
    assert release_order(made, stock) == ()
    assert (stock["tea"].available, stock["tea"].reserved, stock["tea"].sold) == (3, 0, 2)


def test_a_released_order_is_not_sold() -> None:
    stock = {"tea": Stock("tea", available=5)}
    outcome = reserve_order("o-1", [OrderLine("tea", 2)], stock, existing=())
    assert isinstance(outcome, Reserved)
    made = outcome.made
    release_order(made, stock)

    assert sell_order(made, stock) == ()
    assert (stock["tea"].available, stock["tea"].sold) == (5, 0)
