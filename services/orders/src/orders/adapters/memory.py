"""In-memory `Transactions`: orders in a dict and a `MemorySagaStorage`, for tests.

Unlike the SQL unit of work it does not roll back: a block that raises keeps
what it wrote. Orders are copied in and out, so changing an `Order` without
`update` changes nothing stored, as with the real repository.

>>> import asyncio
>>> from decimal import Decimal
>>> from orders.domain.order import Order, OrderItem
>>> transactions = MemoryTransactions()
>>> order = Order.place("c-1", [OrderItem("tea", 1, Decimal("2.00"))])
>>> async def demo() -> str:
...     async with transactions() as work:
...         await work.orders.add(order)
...     async with transactions() as work:
...         stored = await work.orders.get(order.order_id)
...     return stored.status.value
>>> asyncio.run(demo())
'pending'
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import uuid

from cqrs.saga.storage.memory import MemorySagaStorage
from orders.application.errors import OrderNotFoundError
from orders.domain.order import Order

__all__ = ("MemoryOrderRepository", "MemoryTransactions")


class MemoryOrderRepository:
    """The application's `OrderRepository` on a dict."""

    def __init__(self) -> None:
        self._orders: dict[uuid.UUID, Order] = {}

    async def add(self, order: Order) -> None:
        self._orders[order.order_id] = dataclasses.replace(order)

    async def get(self, order_id: uuid.UUID) -> Order | None:
        order = self._orders.get(order_id)
        return None if order is None else dataclasses.replace(order)

    async def update(self, order: Order) -> None:
        if order.order_id not in self._orders:
            raise OrderNotFoundError(order.order_id)
        self._orders[order.order_id] = dataclasses.replace(order)


class MemoryTransactions:
    """The application's `Transactions`, every unit of work sharing one repository and storage."""

    def __init__(self, sagas: MemorySagaStorage | None = None) -> None:
        self.orders = MemoryOrderRepository()
        self.sagas = sagas if sagas is not None else MemorySagaStorage()

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[MemoryTransactions, None]:
        """A unit of work: this object itself (`orders` and `sagas`)."""
        yield self
