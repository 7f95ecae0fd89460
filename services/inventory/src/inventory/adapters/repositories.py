"""The repositories of `inventory.application.ports` on an SQLAlchemy `AsyncSession`.

Locks are `SELECT ... FOR UPDATE` on PostgreSQL, taken in sku order. SQLite
has no row locks: its engine (`cqrs_sqla.create_engine`) starts
every transaction with `BEGIN IMMEDIATE`, so writers run one at a time.

```
async with sessions.begin() as session:
    stock = await SqlStockRepository(session).lock({"tea", "cup"})
```
"""

from __future__ import annotations

import datetime
import typing

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.clock import Clock, utc_now
from inventory.adapters import tables
from inventory.domain import Reservation, ReservationStatus, Stock

__all__ = ("SqlReservationRepository", "SqlStockRepository")


class SqlStockRepository:
    """`StockRepository` on the `stock` table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, sku: str) -> Stock | None:
        row = (await self._session.execute(_STOCK_OF_SKUS, {"skus": [sku]})).one_or_none()
        return None if row is None else _stock(row)

    async def all(self, limit: int) -> list[Stock]:
        stock = tables.stock
        query = sa.select(*_STOCK_COLUMNS).order_by(stock.c.sku).limit(limit)
        return [_stock(row) for row in await self._session.execute(query)]

    async def lock(self, skus: typing.Collection[str]) -> dict[str, Stock]:
        if not skus:
            return {}
        rows = await self._session.execute(_LOCK_STOCK, {"skus": list(skus)})
        return {row.sku: _stock(row) for row in rows}

    async def lock_or_create(self, sku: str) -> Stock:
        found = await self.lock([sku])
        if sku not in found:
            try:
                async with self._session.begin_nested():
                    await self._session.execute(
                        sa.insert(tables.stock).values(
                            sku=sku, available=0, reserved=0, sold=0, revenue_cents=0
                        )
                    )
            except IntegrityError:
                pass  # a concurrent transaction created the row first: lock that one
            found = await self.lock([sku])
        return found[sku]

    async def save(self, stock: typing.Iterable[Stock]) -> None:
        rows = [_levels(level) for level in stock]
        if rows:
            await self._session.execute(_UPDATE_LEVELS, rows)


class SqlReservationRepository:
    """`ReservationRepository` on the `reservations` table; `clock` stamps the changes."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def of_order(self, order_id: str) -> list[Reservation]:
        rows = await self._session.execute(_RESERVATIONS_OF_ORDER, {"order_id": order_id})
        return [_reservation(row) for row in rows]

    async def lock_order(self, order_id: str) -> tuple[list[Reservation], dict[str, Stock]]:
        rows = (await self._session.execute(_LOCK_ORDER, {"order_id": order_id})).all()
        return [_reservation(row) for row in rows], {row.sku: _stock(row) for row in rows}

    async def add(
        self, reservations: typing.Iterable[Reservation], stock: typing.Mapping[str, Stock]
    ) -> None:
        now = self._clock()
        rows = [
            {**_reservation_row(reservation, now), **_levels(stock[reservation.sku])}
            for reservation in reservations
        ]
        await self._write_with_levels(_INSERT_RESERVATION, _INSERT_RESERVATION_WITH_LEVELS, rows)

    async def save(
        self, reservations: typing.Iterable[Reservation], stock: typing.Mapping[str, Stock]
    ) -> None:
        now = self._clock()
        rows = [
            {
                "key_order_id": reservation.order_id,
                "key_sku": reservation.sku,
                "new_status": reservation.status.value,
                "new_released_at": (
                    now if reservation.status is ReservationStatus.RELEASED else None
                ),
                **_levels(stock[reservation.sku]),
            }
            for reservation in reservations
        ]
        await self._write_with_levels(_UPDATE_RESERVATION, _UPDATE_RESERVATION_WITH_LEVELS, rows)

    async def _write_with_levels(
        self,
        statement: sa.Insert | sa.Update,
        with_levels: sa.Insert | sa.Update,
        rows: list[dict[str, typing.Any]],
    ) -> None:
        """Run `statement` and `_UPDATE_LEVELS` for each of `rows` (one reservation and its
        sku's stock each): in one statement on PostgreSQL, `with_levels` (the stock's
        UPDATE a data-modifying CTE of the reservation's statement); in two elsewhere
        (SQLite has no such CTEs)."""
        if not rows:
            return
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(with_levels, rows)
            return
        await self._session.execute(_UPDATE_LEVELS, rows)
        await self._session.execute(statement, rows)


_RESERVATION_FIELDS: typing.Final = (
    "order_id",
    "sku",
    "quantity",
    "status",
    "reserved_at",
    "released_at",
)

# Executed with lists of rows, each statement taking its own keys of a row (those of a
# reservation and of its sku's stock together): every value is a named parameter, and
# no key is a column's name, which SQLAlchemy would add to an UPDATE's SET clause
# (the stock's too, in the CTE).
_UPDATE_LEVELS: typing.Final = (
    sa.update(tables.stock)
    .where(tables.stock.c.sku == sa.bindparam("level_sku"))
    .values(
        available=sa.bindparam("level_available"),
        reserved=sa.bindparam("level_reserved"),
        sold=sa.bindparam("level_sold"),
        revenue_cents=sa.bindparam("level_revenue_cents"),
    )
)
_LEVELS_UPDATED: typing.Final = _UPDATE_LEVELS.cte("levels")

_INSERT_RESERVATION: typing.Final = sa.insert(tables.reservations).values(
    {name: sa.bindparam(f"new_{name}") for name in _RESERVATION_FIELDS}
)

_UPDATE_RESERVATION: typing.Final = (
    sa.update(tables.reservations)
    .where(
        tables.reservations.c.order_id == sa.bindparam("key_order_id"),
        tables.reservations.c.sku == sa.bindparam("key_sku"),
    )
    .values(status=sa.bindparam("new_status"), released_at=sa.bindparam("new_released_at"))
)

# The reservation statements with the stock's UPDATE as a data-modifying CTE (PostgreSQL).
_INSERT_RESERVATION_WITH_LEVELS: typing.Final = _INSERT_RESERVATION.add_cte(_LEVELS_UPDATED)
_UPDATE_RESERVATION_WITH_LEVELS: typing.Final = _UPDATE_RESERVATION.add_cte(_LEVELS_UPDATED)

_STOCK_LEVELS: typing.Final = (
    tables.stock.c.available,
    tables.stock.c.reserved,
    tables.stock.c.sold,
    tables.stock.c.revenue_cents,
)
_STOCK_COLUMNS: typing.Final = (tables.stock.c.sku, *_STOCK_LEVELS)


_RESERVATION_COLUMNS: typing.Final = (
    tables.reservations.c.order_id,
    tables.reservations.c.sku,
    tables.reservations.c.quantity,
    tables.reservations.c.status,
)


# The reads below are built once, with their values as bind parameters: a statement
# built per call pays its construction and its cache key on every execution, where a
# kept one computes its key once (built per call, a consumed message took about a
# third more CPU: bench/README.md, "the inventory's CPU per order").
_STOCK_OF_SKUS: typing.Final = (
    sa.select(*_STOCK_COLUMNS)
    .where(tables.stock.c.sku.in_(sa.bindparam("skus", expanding=True)))
    .order_by(tables.stock.c.sku)
)
# Rows are locked as they are read, so ORDER BY makes every transaction lock in the
# same order: no two wait for each other in a circle.
_LOCK_STOCK: typing.Final = _STOCK_OF_SKUS.with_for_update()

_RESERVATIONS_OF_ORDER: typing.Final = (
    sa.select(*_RESERVATION_COLUMNS)
    .where(tables.reservations.c.order_id == sa.bindparam("order_id"))
    .order_by(tables.reservations.c.sku)
)
# One statement where a read of the reservations and then of their stock took two: FOR
# UPDATE locks the rows of both tables as the sorted join returns them, and returns each
# row as it is once locked.
_LOCK_ORDER: typing.Final = (
    sa.select(*_RESERVATION_COLUMNS, *_STOCK_LEVELS)
    .join(tables.stock, tables.stock.c.sku == tables.reservations.c.sku)
    .where(tables.reservations.c.order_id == sa.bindparam("order_id"))
    .order_by(tables.reservations.c.sku)
    .with_for_update()
)


def _stock(row: sa.Row[typing.Any]) -> Stock:
    return Stock(
        row.sku,
        available=row.available,
        reserved=row.reserved,
        sold=row.sold,
        revenue_cents=row.revenue_cents,
    )


def _reservation(row: sa.Row[typing.Any]) -> Reservation:
    return Reservation(row.order_id, row.sku, row.quantity, ReservationStatus(row.status))


def _levels(stock: Stock) -> dict[str, typing.Any]:
    """The parameters of `_UPDATE_LEVELS` for `stock`."""
    return {
        "level_sku": stock.sku,
        "level_available": stock.available,
        "level_reserved": stock.reserved,
        "level_sold": stock.sold,
        "level_revenue_cents": stock.revenue_cents,
    }


def _reservation_row(reservation: Reservation, now: datetime.datetime) -> dict[str, typing.Any]:
    """The parameters of `_INSERT_RESERVATION` for `reservation`."""
    return {
        "new_order_id": reservation.order_id,
        "new_sku": reservation.sku,
        "new_quantity": reservation.quantity,
        "new_status": reservation.status.value,
        "new_reserved_at": now,
        "new_released_at": None,
    }
