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
        row = (await self._session.execute(_select_stock([sku]))).one_or_none()
        return None if row is None else _stock(row)

    async def all(self, limit: int) -> list[Stock]:
        stock = tables.stock
        query = sa.select(*_STOCK_COLUMNS).order_by(stock.c.sku).limit(limit)
        return [_stock(row) for row in await self._session.execute(query)]

    async def lock(self, skus: typing.Collection[str]) -> dict[str, Stock]:
        if not skus:
            return {}
        # Rows are locked as they are read, so ORDER BY makes every transaction
        # lock in the same order: no two wait for each other in a circle.
        statement = _select_stock(sorted(skus)).with_for_update()
        return {row.sku: _stock(row) for row in await self._session.execute(statement)}

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
        rows = [
            {
                "key": level.sku,
                "available": level.available,
                "reserved": level.reserved,
                "sold": level.sold,
                "revenue_cents": level.revenue_cents,
            }
            for level in stock
        ]
        if rows:
            await self._session.execute(_UPDATE_STOCK, rows)


class SqlReservationRepository:
    """`ReservationRepository` on the `reservations` table; `clock` stamps the changes."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def of_order(self, order_id: str) -> list[Reservation]:
        statement = sa.select(*_RESERVATION_COLUMNS).where(
            tables.reservations.c.order_id == order_id
        )
        rows = await self._session.execute(statement.order_by(tables.reservations.c.sku))
        return [_reservation(row) for row in rows]

    async def lock_order(self, order_id: str) -> tuple[list[Reservation], dict[str, Stock]]:
        # One statement where a read of the reservations and then of their stock took two:
        # FOR UPDATE locks the rows of both tables as the sorted join returns them, and
        # returns each row as it is once locked.
        statement = (
            sa.select(*_RESERVATION_COLUMNS, *_STOCK_LEVELS)
            .join(tables.stock, tables.stock.c.sku == tables.reservations.c.sku)
            .where(tables.reservations.c.order_id == order_id)
            .order_by(tables.reservations.c.sku)
            .with_for_update()
        )
        rows = (await self._session.execute(statement)).all()
        return [_reservation(row) for row in rows], {row.sku: _stock(row) for row in rows}

    async def add(self, reservations: typing.Iterable[Reservation]) -> None:
        now = self._clock()
        rows = [_reservation_row(reservation, now) for reservation in reservations]
        if rows:
            await self._session.execute(sa.insert(tables.reservations), rows)

    async def save(self, reservations: typing.Iterable[Reservation]) -> None:
        now = self._clock()
        rows = [
            {
                "key_order_id": reservation.order_id,
                "key_sku": reservation.sku,
                "status": reservation.status.value,
                "released_at": now if reservation.status is ReservationStatus.RELEASED else None,
            }
            for reservation in reservations
        ]
        if rows:
            await self._session.execute(_UPDATE_RESERVATION, rows)


# Executed with a list of rows: each row's column names make the SET clause, and
# the key parameters are named apart from the columns, which SQLAlchemy reserves
# for that clause.
_UPDATE_STOCK: typing.Final = sa.update(tables.stock).where(
    tables.stock.c.sku == sa.bindparam("key")
)

_UPDATE_RESERVATION: typing.Final = sa.update(tables.reservations).where(
    tables.reservations.c.order_id == sa.bindparam("key_order_id"),
    tables.reservations.c.sku == sa.bindparam("key_sku"),
)


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


def _select_stock(skus: typing.Sequence[str]) -> sa.Select[typing.Any]:
    return (
        sa.select(*_STOCK_COLUMNS).where(tables.stock.c.sku.in_(skus)).order_by(tables.stock.c.sku)
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


def _reservation_row(reservation: Reservation, now: datetime.datetime) -> dict[str, typing.Any]:
    return {
        "order_id": reservation.order_id,
        "sku": reservation.sku,
        "quantity": reservation.quantity,
        "status": reservation.status.value,
        "reserved_at": now,
        "released_at": None,
    }
