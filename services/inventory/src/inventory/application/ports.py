"""What the application needs from the outside world: storage and a way to reply.

Everything a handler does happens in one unit of work: the stock it changes,
the reservations it writes and the replies it sends commit together, or none
of them does. The adapters implement these protocols on SQLAlchemy and the
transactional outbox (`inventory.adapters.unit_of_work`).

Stock rows are locked before their units change, several at once in sku
order, so concurrent reserves queue instead of overselling. A release locks
its order's reservations with their stock in one read (each reservation, then
its sku's stock, in sku order); nothing else waits for those reservations, and
every stock is locked in sku order, so no two transactions wait for each
other's locks in a circle.

```
async with unit_of_work() as work:
    stock = await work.stock.lock({"tea"})
    ...
    await work.stock.save(stock.values())
    work.replies.stock_reserved("o-1")
```
"""

from __future__ import annotations

import contextlib
import typing

from inventory.domain import Reservation, Stock

__all__ = (
    "InventoryUnitOfWork",
    "Replies",
    "ReservationRepository",
    "StockRepository",
    "UnitOfWorkFactory",
)


class StockRepository(typing.Protocol):
    """The stock levels, one row per sku."""

    async def get(self, sku: str) -> Stock | None:
        """The stock of `sku` as committed now, or `None` for a sku never restocked."""
        ...

    async def all(self, limit: int) -> list[Stock]:
        """The first `limit` skus' stock, by sku."""
        ...

    async def lock(self, skus: typing.Collection[str]) -> dict[str, Stock]:
        """The stock of each of `skus` that exists, locked (in sku order) until the
        unit of work ends; skus never restocked are left out."""
        ...

    async def lock_or_create(self, sku: str) -> Stock:
        """The stock of `sku`, locked until the unit of work ends; a new sku starts empty."""
        ...

    async def save(self, stock: typing.Iterable[Stock]) -> None:
        """Write the levels of `stock`, which were locked in this unit of work."""
        ...


class ReservationRepository(typing.Protocol):
    """The reservations, one per order and sku."""

    async def of_order(self, order_id: str) -> list[Reservation]:
        """The order's reservations, held or released, without locking them."""
        ...

    async def lock_order(self, order_id: str) -> tuple[list[Reservation], dict[str, Stock]]:
        """The order's reservations and the stock of their skus, all locked until the unit
        of work ends: each reservation with its sku's stock, in sku order."""
        ...

    async def add(
        self, reservations: typing.Iterable[Reservation], stock: typing.Mapping[str, Stock]
    ) -> None:
        """Insert new reservations, and write the levels of their skus' `stock` (locked in
        this unit of work) with them."""
        ...

    async def save(
        self, reservations: typing.Iterable[Reservation], stock: typing.Mapping[str, Stock]
    ) -> None:
        """Write the status of reservations locked in this unit of work, and the levels
        of their skus' `stock` (locked too) with them."""
        ...


class Replies(typing.Protocol):
    """The answers to the commands of the orders service, sent when the unit of work commits."""

    def stock_reserved(self, order_id: str) -> None:
        """The order holds its stock."""
        ...

    def stock_rejected(self, order_id: str, skus: typing.Sequence[str]) -> None:
        """Nothing was reserved: `skus` are short of stock."""
        ...

    def items_rejected(self, order_id: str) -> None:
        """Nothing was reserved: the order's items break the contract (none, too many,
        a sku or quantity out of bounds), so no stock could ever serve them."""
        ...

    def stock_released(self, order_id: str) -> None:
        """The order holds no stock any more."""
        ...


class InventoryUnitOfWork(typing.Protocol):
    """The repositories and replies of one transaction."""

    @property
    def stock(self) -> StockRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    @property
    def replies(self) -> Replies: ...


class UnitOfWorkFactory(typing.Protocol):
    """Opens units of work; what a handler is given to reach storage."""

    def __call__(self) -> contextlib.AbstractAsyncContextManager[InventoryUnitOfWork]:
        """A unit of work that commits when the block exits cleanly and rolls back if it raises.

        Raises `StorageUnavailableError` when the database does not answer.
        """
        ...
