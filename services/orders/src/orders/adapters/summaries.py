"""`SqlOrderSummaries`: the read side's query model in the `order_summaries` table.

Written by the order repository in the transaction that stores the order
(`orders.application.order_history.project`), read by `ListCustomerOrders`.
Totals are whole cents, as in the `orders` table.
"""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs_sqla.statements import insert_or_replace
from orders.adapters.tables import order_summaries
from orders.application.order_history import OrderSummary
from orders.domain.order import (
    CENT,
    OrderStatus,
    OrderWasConfirmed,
    OrderWasRejected,
    RejectionReason,
)

__all__ = ("SqlOrderSummaries",)

_CENTS: typing.Final = 100


class SqlOrderSummaries:
    """`OrderSummaries` on one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, order_id: uuid.UUID) -> OrderSummary | None:
        query = sa.select(order_summaries).where(order_summaries.c.order_id == order_id)
        row = (await self._session.execute(query)).mappings().one_or_none()
        return None if row is None else _summary(row)

    async def save(self, summary: OrderSummary) -> None:
        """Insert the summary or replace the order's, in one statement."""
        values = {
            "order_id": uuid.UUID(summary.order_id),
            "customer_id": summary.customer_id,
            "status": summary.status.value,
            "reason": None if summary.reason is None else summary.reason.value,
            "total_cents": int(summary.total * _CENTS),
            "item_count": summary.item_count,
            "placed_at": summary.placed_at,
            "decided_at": summary.decided_at,
        }
        dialect = self._session.get_bind().dialect
        await self._session.execute(
            insert_or_replace(dialect, order_summaries, values, "SqlOrderSummaries")
        )

    async def decide(
        self, event: OrderWasConfirmed | OrderWasRejected, at: datetime.datetime
    ) -> bool:
        """Set the outcome in one UPDATE (no read first)."""
        rejected = isinstance(event, OrderWasRejected)
        updated = await self._session.execute(
            order_summaries.update()
            .where(order_summaries.c.order_id == event.order_id)
            .values(
                status=(OrderStatus.REJECTED if rejected else OrderStatus.CONFIRMED).value,
                reason=event.reason.value if rejected else None,
                decided_at=at,
            )
        )
        return typing.cast("sa.CursorResult[typing.Any]", updated).rowcount == 1

    async def of_customer(self, customer_id: str, limit: int) -> list[OrderSummary]:
        query = (
            sa.select(order_summaries)
            .where(order_summaries.c.customer_id == customer_id)
            .order_by(order_summaries.c.placed_at.desc(), order_summaries.c.order_id)
            .limit(limit)
        )
        return [_summary(row) for row in (await self._session.execute(query)).mappings()]


def _summary(row: sa.RowMapping) -> OrderSummary:
    reason = typing.cast("str | None", row["reason"])
    return OrderSummary(
        order_id=str(row["order_id"]),
        customer_id=row["customer_id"],
        status=OrderStatus(row["status"]),
        reason=None if reason is None else RejectionReason(reason),
        total=(decimal.Decimal(row["total_cents"]) / _CENTS).quantize(CENT),
        item_count=row["item_count"],
        placed_at=row["placed_at"],
        decided_at=row["decided_at"],
    )
