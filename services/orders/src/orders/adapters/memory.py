"""In-memory `UnitOfWorkFactory`: orders in a dict and a `MemorySagaStorage`, for tests.

Unlike the SQL unit of work it does not roll back: a block that raises keeps
what it wrote (only the idempotency keys it claimed, in a `MemoryIdempotencyStore`,
go). Orders are copied in and out, so changing an `Order` without `update`
changes nothing stored, as with the real repository.

>>> import asyncio
>>> from decimal import Decimal
>>> from orders.domain.order import Order, OrderItem
>>> unit_of_work = MemoryUnitOfWork()
>>> order = Order.place("c-1", [OrderItem("tea", 1, Decimal("2.00"))])
>>> async def demo() -> str:
...     async with unit_of_work() as work:
...         await work.orders.add(order)
...     async with unit_of_work() as work:
...         stored = await work.orders.get(order.order_id)
...     return stored.status.value
>>> asyncio.run(demo())
'pending'
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import datetime
import uuid

from cqrs.clock import utc_now
from cqrs.idempotency import MemoryIdempotencySession, MemoryIdempotencyStore
from cqrs.saga.storage.memory import MemorySagaStorage
from orders.adapters.idempotency import TransactionKeys
from orders.application.errors import OrderNotFoundError
from orders.application.order_history import OrderSummary, project, summarize
from orders.domain.order import Order, OrderWasConfirmed, OrderWasRejected

__all__ = ("MemoryOrderRepository", "MemoryOrderSummaries", "MemoryUnitOfWork", "MemoryWork")


class MemoryOrderSummaries:
    """The read side's `OrderSummaries` on a dict."""

    def __init__(self) -> None:
        self._summaries: dict[str, OrderSummary] = {}

    async def get(self, order_id: uuid.UUID) -> OrderSummary | None:
        return self._summaries.get(str(order_id))

    async def save(self, summary: OrderSummary) -> None:
        self._summaries[summary.order_id] = summary

    async def decide(
        self, event: OrderWasConfirmed | OrderWasRejected, at: datetime.datetime
    ) -> bool:
        previous = self._summaries.get(str(event.order_id))
        if previous is None:
            return False
        self._summaries[previous.order_id] = summarize(previous, event, at)
        return True

    async def of_customer(self, customer_id: str, limit: int) -> list[OrderSummary]:
        mine = [s for s in self._summaries.values() if s.customer_id == customer_id]
        return sorted(mine, key=lambda summary: summary.placed_at, reverse=True)[:limit]


class MemoryOrderRepository:
    """The application's `OrderRepository` on a dict; it projects to `summaries`."""

    def __init__(self, summaries: MemoryOrderSummaries) -> None:
        self._orders: dict[uuid.UUID, Order] = {}
        self._summaries = summaries

    async def add(self, order: Order) -> None:
        self._orders[order.order_id] = dataclasses.replace(order)
        await project(self._summaries, order.pull_events(), utc_now())

    async def get(self, order_id: uuid.UUID) -> Order | None:
        order = self._orders.get(order_id)
        return None if order is None else dataclasses.replace(order)

    async def update(self, order: Order) -> None:
        if order.order_id not in self._orders:
            raise OrderNotFoundError(order.order_id)
        self._orders[order.order_id] = dataclasses.replace(order)
        await project(self._summaries, order.pull_events(), utc_now())


@dataclasses.dataclass(frozen=True)
class MemoryWork:
    """One unit of work of a `MemoryUnitOfWork`: its shared stores, and the keys of its
    own transaction."""

    orders: MemoryOrderRepository
    sagas: MemorySagaStorage
    summaries: MemoryOrderSummaries
    idempotency: TransactionKeys[MemoryIdempotencySession]


class MemoryUnitOfWork:
    """A `UnitOfWorkFactory` whose units of work all share one repository, saga storage,
    read side and idempotency store."""

    def __init__(self, sagas: MemorySagaStorage | None = None) -> None:
        self.summaries = MemoryOrderSummaries()
        self.orders = MemoryOrderRepository(self.summaries)
        self.sagas = sagas if sagas is not None else MemorySagaStorage()
        self.idempotency = MemoryIdempotencyStore()

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[MemoryWork, None]:
        """A unit of work: the shared stores, and a transaction of the idempotency store."""
        async with self.idempotency.session() as session, session.begin():
            keys = TransactionKeys(self.idempotency, session)
            yield MemoryWork(self.orders, self.sagas, self.summaries, keys)
