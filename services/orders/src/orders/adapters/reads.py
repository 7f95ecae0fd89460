"""`SqlOrderReads`: an order with its saga and the saga's step log, for `GET /orders/{id}`
and the event streams, which read them at every transition.

On PostgreSQL the three are one statement on the asyncpg connection
(`cqrs_sqla.saga_pg.on_driver`), in autocommit: one round trip and one
snapshot, so the order is as new as the saga beside it. Elsewhere (SQLite)
they are read in one unit of work that only reads (`SqlUnitOfWorkFactory.
reading`: no write lock, so a read never waits for a saga's write, nor
holds one up), the saga first: the saga's steps write the order's outcome
before they log it, so an order read after a finished saga shows that
outcome.

```
reads = SqlOrderReads(database.engine, database.schema, database.unit_of_work())
order, saga, history = await reads.read(order_id) or not_found()
```
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.saga.errors import SagaNotFoundError
from cqrs.saga.models import SagaLogEntry, SagaState
from cqrs_sqla.driver_errors import mapped_driver_errors
from cqrs_sqla.saga_pg import log_arrays, on_driver
from cqrs_sqla.saga_rows import log_entries_of, state_of
from cqrs_sqla.schema import Schema
from orders.adapters.repository import order_of
from orders.adapters.tables import order_items, orders
from orders.adapters.unit_of_work import SqlUnitOfWorkFactory, storage_errors
from orders.domain.order import Order

__all__ = ("SqlOrderReads",)

#: An order, its saga and the saga's step log in write order.
OrderRecord = tuple[Order, SagaState, list[SagaLogEntry]]


class SqlOrderReads:
    """The application's `OrderReads` on the service's database.

    Raises `StorageUnavailableError` when the database does not answer.
    """

    def __init__(
        self, engine: AsyncEngine, schema: Schema, unit_of_work: SqlUnitOfWorkFactory
    ) -> None:
        self._unit_of_work = unit_of_work
        self._engine = engine if engine.dialect.name == "postgresql" else None
        self._sql = _read_sql(engine.dialect, schema)

    async def read(self, order_id: uuid.UUID) -> OrderRecord | None:
        """Order `order_id`, its saga and the saga's step log; None for an unknown id."""
        if self._engine is None:
            return await self._read_in_unit_of_work(order_id)
        engine, sql = self._engine, self._sql
        with storage_errors(), mapped_driver_errors("SqlOrderReads.read"):
            record = await on_driver(engine, lambda driver: driver.fetchrow(sql, order_id))
        if record is None or record["customer_id"] is None:
            return None  # no saga, or (never after a commit) no order beside it
        row = dict(record)
        order = order_of(
            order_id,
            row["customer_id"],
            row["order_status"],
            row["reason"],
            zip(row["skus"] or (), row["quantities"] or (), row["cents"] or (), strict=True),
        )
        return order, state_of(row), log_entries_of(order_id, row)

    async def _read_in_unit_of_work(self, order_id: uuid.UUID) -> OrderRecord | None:
        async with self._unit_of_work.reading() as work:
            try:
                saga = await work.sagas.load_saga_state(order_id)
            except SagaNotFoundError:
                return None
            log = await work.sagas.get_step_history(order_id)
            order = await work.orders.get(order_id)
        return None if order is None else (order, saga, log)


def _read_sql(dialect: sa.Dialect, schema: Schema) -> str:
    quote = dialect.identifier_preparer
    saga, log = quote.format_table(schema.saga), quote.format_table(schema.saga_log)
    order, items = quote.format_table(orders), quote.format_table(order_items)
    return f"""
        SELECT saga.id, saga.name, saga.status, saga.context, saga.version,
               saga.recovery_attempts, saga.error, saga.waiting_step, saga.waiting_action,
               saga.waiting_deadline, saga.waiting_attempt, saga.trace_context,
               o.customer_id, o.status AS order_status, o.reason,
               lines.skus, lines.quantities, lines.cents,
               log.log_step, log.log_action, log.log_status, log.log_at,
               log.log_details
        FROM {saga} AS saga
        LEFT JOIN {order} AS o ON o.id = saga.id
        LEFT JOIN LATERAL (
            SELECT array_agg(sku ORDER BY line) AS skus,
                   array_agg(quantity ORDER BY line) AS quantities,
                   array_agg(unit_price_cents ORDER BY line) AS cents
            FROM {items} WHERE order_id = saga.id
        ) AS lines ON true
        {log_arrays(log, "saga.id")}
        WHERE saga.id = $1
    """
