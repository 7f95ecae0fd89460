"""Reservations: the stock an order holds, and the rules that make, free and sell them.

`reserve_order` is all or nothing: every line of the order is held, or none
is and the order is rejected with the skus that are short. An order that
already has reservations is not reserved twice. `release_order` gives an
order's held units back; releasing twice frees nothing the second time.
`sell_order` turns a confirmed order's held units into sold ones, once.

>>> stock = {"tea": Stock("tea", available=5)}
>>> outcome = reserve_order("o-1", [OrderLine("tea", 2)], stock, existing=())
>>> [(r.sku, r.quantity) for r in outcome.made], stock["tea"].available
([('tea', 2)], 3)
>>> reserve_order("o-2", [OrderLine("tea", 9), OrderLine("cup", 1)], stock, existing=())
Rejected(skus=('cup', 'tea'))
>>> [r.status.value for r in release_order(outcome.made, stock)], stock["tea"].available
(['released'], 5)
>>> held = reserve_order("o-3", [OrderLine("tea", 1)], stock, existing=()).made
>>> [r.status.value for r in sell_order(held, stock)], stock["tea"].sold
(['sold'], 1)
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import typing

from inventory.domain.errors import InvalidOrderLinesError, InvalidQuantityError, quoted
from inventory.domain.limits import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from inventory.domain.stock import Stock, check_sku, positive_quantity

__all__ = (
    "OrderLine",
    "Rejected",
    "Reservation",
    "ReservationStatus",
    "Reserved",
    "release_order",
    "reserve_order",
    "sell_order",
)


class ReservationStatus(enum.Enum):
    """Whether a reservation still holds its units.

    >>> ReservationStatus("held") is ReservationStatus.HELD
    True
    """

    HELD = "held"
    RELEASED = "released"
    #: The order was confirmed: the units left the stock for good.
    SOLD = "sold"


@dataclasses.dataclass(frozen=True)
class OrderLine:
    """One line of an order to reserve: a sku and 1 to `MAX_LINE_QUANTITY` units of it.

    >>> OrderLine("tea", 0)
    Traceback (most recent call last):
      ...
    inventory.domain.errors.InvalidQuantityError: quantity must be a whole number above zero, got 0
    """

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        check_sku(self.sku)
        if positive_quantity(self.quantity) > MAX_LINE_QUANTITY:
            raise InvalidQuantityError(
                f"a line holds at most {MAX_LINE_QUANTITY} units, got {quoted(self.quantity)}"
            )


@dataclasses.dataclass
class Reservation:
    """The units of one sku held for one order.

    >>> Reservation("o-1", "tea", 2).status
    <ReservationStatus.HELD: 'held'>
    """

    order_id: str
    sku: str
    quantity: int
    status: ReservationStatus = ReservationStatus.HELD

    def release(self, stock: Stock) -> bool:
        """Give the held units back to `stock`; `False` (and nothing changes) unless held."""
        if not self._holds_units_of(stock):
            return False
        stock.free(self.quantity)
        self.status = ReservationStatus.RELEASED
        return True

    def sell(self, stock: Stock, revenue_cents: int = 0) -> bool:
        """Turn the held units into sold ones in `stock`, for `revenue_cents`; `False`
        (and nothing changes) unless held."""
        if not self._holds_units_of(stock):
            return False
        stock.sell(self.quantity, revenue_cents)
        self.status = ReservationStatus.SOLD
        return True

    def _holds_units_of(self, stock: Stock) -> bool:
        if stock.sku != self.sku:
            raise ValueError(
                f"a reservation of {self.sku!r} cannot move units of {stock.sku!r}; "
                f"pass the stock of the reservation's own sku"
            )
        return self.status is ReservationStatus.HELD


@dataclasses.dataclass(frozen=True)
class Reserved:
    """The order holds its stock; `made` are the reservations this call created
    (none when the order had reservations already).

    >>> Reserved(made=()).made
    ()
    """

    made: tuple[Reservation, ...]


@dataclasses.dataclass(frozen=True)
class Rejected:
    """Nothing was reserved: `skus` (sorted) lack the units the order asks for.

    >>> Rejected(skus=("tea",)).skus
    ('tea',)
    """

    skus: tuple[str, ...]


def reserve_order(
    order_id: str,
    lines: typing.Iterable[OrderLine],
    stock: typing.Mapping[str, Stock],
    existing: typing.Collection[Reservation],
) -> Reserved | Rejected:
    """Hold every line of the order in `stock` (sku -> level), or nothing.

    Lines of one sku are added up. A sku missing from `stock` has nothing
    available. When the order already has reservations (`existing`, held or
    released) nothing changes: a command seen twice must not hold twice, and a
    released order stays released. Raises `InvalidOrderLinesError` when there
    are no lines or more than `MAX_ORDER_LINES`.
    """
    if existing:
        return Reserved(made=())
    wanted = _quantities_by_sku(lines)
    short = tuple(
        sku
        for sku, quantity in wanted.items()
        if sku not in stock or stock[sku].available < quantity
    )
    if short:
        return Rejected(skus=short)
    made: list[Reservation] = []
    for sku, quantity in wanted.items():
        stock[sku].hold(quantity)
        made.append(Reservation(order_id, sku, quantity))
    return Reserved(made=tuple(made))


def release_order(
    reservations: typing.Iterable[Reservation], stock: typing.Mapping[str, Stock]
) -> tuple[Reservation, ...]:
    """Free the held units of `reservations` into `stock`; return the reservations released now.

    Released ones are skipped, so releasing twice frees nothing the second time.
    """
    return tuple(
        reservation for reservation in reservations if reservation.release(stock[reservation.sku])
    )


def sell_order(
    reservations: typing.Iterable[Reservation],
    stock: typing.Mapping[str, Stock],
    revenue_cents: typing.Mapping[str, int] | None = None,
) -> tuple[Reservation, ...]:
    """Sell the held units of `reservations` in `stock`, each sku's for its amount in
    `revenue_cents` (none when absent); return the reservations sold now.

    Sold and released ones are skipped, so a confirmation seen twice sells (and counts
    its revenue) once.
    """
    amounts = revenue_cents or {}
    return tuple(
        reservation
        for reservation in reservations
        if reservation.sell(stock[reservation.sku], amounts.get(reservation.sku, 0))
    )


def _quantities_by_sku(lines: typing.Iterable[OrderLine]) -> dict[str, int]:
    """Total quantity per sku, in sku order (the order stock rows are locked in)."""
    given = tuple(lines)
    if not 0 < len(given) <= MAX_ORDER_LINES:
        raise InvalidOrderLinesError(
            f"an order to reserve needs 1 to {MAX_ORDER_LINES} lines, got {len(given)}"
        )
    totals: collections.Counter[str] = collections.Counter()
    for line in given:
        totals[line.sku] += line.quantity
    return dict(sorted(totals.items()))
