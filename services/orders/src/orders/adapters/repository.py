"""`SqlAlchemyOrderRepository`: the application's `OrderRepository` on one `AsyncSession`.

It writes on the session it is given and never commits: the unit of work
(`orders.adapters.unit_of_work`) owns the transaction. The order's domain
events go to the read side and, for its outcome, to the outbox as a
notification on `orders.events` (`order_notification`), in that transaction.
"""

from __future__ import annotations

import datetime
import decimal
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.clock import utc_now
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from orders.adapters.messages import order_notification
from orders.adapters.tables import order_items, orders
from orders.application.errors import OrderNotFoundError
from orders.application.order_history import OrderSummaries, project
from orders.domain.order import Order, OrderItem, OrderStatus, RejectionReason

__all__ = ("SqlAlchemyOrderRepository", "order_of")

CENTS_PER_UNIT: typing.Final = 100


class SqlAlchemyOrderRepository:
    """Orders and their items in the `orders` and `order_items` tables."""

    def __init__(
        self,
        session: AsyncSession,
        summaries: OrderSummaries,
        outbox: SqlAlchemyOutboxedEventRepository,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self._session = session
        self._summaries = summaries
        self._outbox = outbox
        self._clock = clock
        # The orders this transaction wrote, as written: reading one back (the saga's
        # first pass, run in the POST's transaction) needs no statement.
        self._written: dict[uuid.UUID, Order] = {}

    async def add(self, order: Order) -> None:
        """Insert the order and its items: one statement on PostgreSQL, two elsewhere."""
        now = self._clock()
        row = {
            "id": order.order_id,
            "customer_id": order.customer_id,
            "status": order.status.value,
            "reason": _reason_value(order),
            "created_at": now,
            "updated_at": now,
        }
        if self._session.get_bind().dialect.name == "postgresql":
            # The items inserted in the order's statement (a data-modifying CTE): one
            # round trip less per order placed. SQLite has no such CTEs. The items go
            # as one array per column: one statement, compiled once, for any count.
            items = list(enumerate(order.items))
            await self._session.execute(
                _ORDER_WITH_ITEMS,
                {
                    **row,
                    "item_lines": [line for line, _ in items],
                    "item_skus": [item.sku for _, item in items],
                    "item_quantities": [item.quantity for _, item in items],
                    "item_prices": [_cents(item) for _, item in items],
                },
            )
        else:
            await self._session.execute(orders.insert(), row)
            await self._session.execute(
                order_items.insert(),
                [
                    {
                        "order_id": order.order_id,
                        "line": line,
                        "sku": item.sku,
                        "quantity": item.quantity,
                        "unit_price_cents": _cents(item),
                    }
                    for line, item in enumerate(order.items)
                ],
            )
        await self._publish(order, now)
        self._remember(order)

    async def get(self, order_id: uuid.UUID) -> Order | None:
        """The stored order (with its items, in one statement), or `None`."""
        written = self._written.get(order_id)
        if written is not None:
            return _copy(written)
        rows = (await self._session.execute(_SELECT_ORDER, {"order_id": order_id})).all()
        if not rows:
            return None
        first = rows[0]
        return order_of(
            order_id,
            first.customer_id,
            first.status,
            first.reason,
            [(row.sku, row.quantity, row.unit_price_cents) for row in rows],
        )

    async def update(self, order: Order) -> None:
        """Store the order's status and reason; `OrderNotFoundError` when it is not stored."""
        now = self._clock()
        result = await self._session.execute(
            _UPDATE_ORDER,
            {
                "order_id": order.order_id,
                "new_status": order.status.value,
                "new_reason": _reason_value(order),
                "changed_at": now,
            },
        )
        if typing.cast("sa.CursorResult[typing.Any]", result).rowcount == 0:
            raise OrderNotFoundError(order.order_id)
        await self._publish(order, now)
        self._remember(order)

    def _remember(self, order: Order) -> None:
        self._written[order.order_id] = _copy(order)

    async def _publish(self, order: Order, now: datetime.datetime) -> None:
        """Apply the order's domain events to the read side and stage its notifications."""
        events = order.pull_events()
        await project(self._summaries, events, now)
        for event in events:
            notification = order_notification(order, event)
            if notification is not None:
                # Keyed by order id: one order's notifications stay in order.
                self._outbox.add(self._session, notification, key=str(event.order_id))


def order_of(
    order_id: uuid.UUID,
    customer_id: str,
    status: str,
    reason: str | None,
    items: typing.Iterable[tuple[str, int, int]],
) -> Order:
    """The `Order` of an `orders` row's values and its items' (sku, quantity, unit price in
    cents), in line order.

    >>> order_of(uuid.uuid4(), "c-1", "pending", None, [("tea", 2, 350)]).total
    Decimal('7.00')
    """
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        items=tuple(
            OrderItem(sku, quantity, decimal.Decimal(cents) / CENTS_PER_UNIT)
            for sku, quantity, cents in items
        ),
        status=OrderStatus(status),
        reason=None if reason is None else RejectionReason(reason),
    )


def _copy(order: Order) -> Order:
    """A copy of `order` as stored, without its pending events (the caller's changes to
    one do not reach the other)."""
    return Order(
        order_id=order.order_id,
        customer_id=order.customer_id,
        items=order.items,
        status=order.status,
        reason=order.reason,
    )


# An order's outcome, one statement built once (binds only: no cache key to compute
# from values at each execution).
_UPDATE_ORDER: typing.Final = (
    orders.update()
    .where(orders.c.id == sa.bindparam("order_id", type_=orders.c.id.type))
    .values(
        status=sa.bindparam("new_status", type_=orders.c.status.type),
        reason=sa.bindparam("new_reason", type_=orders.c.reason.type),
        updated_at=sa.bindparam("changed_at", type_=orders.c.updated_at.type),
    )
)

# An order and its items in one statement: one row per item, in line order (every
# order has at least one item).
_SELECT_ORDER: typing.Final = (
    sa.select(
        orders.c.customer_id,
        orders.c.status,
        orders.c.reason,
        order_items.c.sku,
        order_items.c.quantity,
        order_items.c.unit_price_cents,
    )
    .join(order_items, order_items.c.order_id == orders.c.id)
    .where(orders.c.id == sa.bindparam("order_id"))
    .order_by(order_items.c.line)
)


def _order_with_items() -> sa.Insert:
    """The order's INSERT as a CTE of one INSERT of its items, from one array per item
    column (`item_lines`, `item_skus`, `item_quantities`, `item_prices`) unnested
    together: the order's row is inserted before its items' foreign keys are checked,
    at the statement's end. Only binds: SQLAlchemy compiles it once, whatever the
    order, where a VALUES list of the items made a new statement for each order."""
    placed = (
        orders.insert()
        .values({column.name: sa.bindparam(column.name, type_=column.type) for column in orders.c})
        .returning(orders.c.id)
        .cte("placed")
    )
    arrays = {
        "line": "item_lines",
        "sku": "item_skus",
        "quantity": "item_quantities",
        "unit_price_cents": "item_prices",
    }
    lines = (
        sa.func.unnest(
            *(
                sa.bindparam(bind, type_=postgresql.ARRAY(order_items.c[column].type))
                for column, bind in arrays.items()
            )
        )
        .table_valued(*(sa.column(column, order_items.c[column].type) for column in arrays))
        .render_derived("lines")
    )
    rows = sa.select(placed.c.id, *(lines.c[column] for column in arrays)).select_from(
        placed.join(lines, sa.true())  # one order row: each line with it
    )
    return order_items.insert().from_select(("order_id", *arrays), rows)


_ORDER_WITH_ITEMS: typing.Final = _order_with_items()


def _cents(item: OrderItem) -> int:
    return int(item.unit_price * CENTS_PER_UNIT)


def _reason_value(order: Order) -> str | None:
    return None if order.reason is None else order.reason.value
