"""Units of work on SQLAlchemy: the repositories and replies of one transaction.

`SqlUnitOfWorkFactory` opens a transaction for each unit of work (the HTTP
requests use it); the Kafka consumer's handlers join the transaction of the
message being handled instead (`inventory.adapters.kafka.DeliveryUnitOfWorkFactory`).

```
unit_of_work = SqlUnitOfWorkFactory(outbox, replies_topic="inventory.replies")
async with unit_of_work() as work:  # commits on a clean exit
    stock = await work.stock.lock_or_create("tea")
```
"""

from __future__ import annotations

import collections.abc
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession

import servicekit.storage
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from inventory.adapters.replies import OutboxReplies
from inventory.adapters.repositories import SqlReservationRepository, SqlStockRepository
from inventory.application.errors import DataRejectedError, StorageUnavailableError

__all__ = ("SqlUnitOfWork", "SqlUnitOfWorkFactory", "storage_errors")


class SqlUnitOfWork:
    """`InventoryUnitOfWork` on `session`; replies go to `outbox` on `replies_topic`."""

    def __init__(
        self, session: AsyncSession, outbox: SqlAlchemyOutboxedEventRepository, replies_topic: str
    ) -> None:
        self.stock = SqlStockRepository(session)
        self.reservations = SqlReservationRepository(session)
        self.replies = OutboxReplies(session, outbox, replies_topic)


class SqlUnitOfWorkFactory:
    """`UnitOfWorkFactory` opening a transaction of its own on the outbox's session factory."""

    def __init__(self, outbox: SqlAlchemyOutboxedEventRepository, replies_topic: str) -> None:
        self._outbox = outbox
        self._replies_topic = replies_topic

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[SqlUnitOfWork, None]:
        with storage_errors():
            async with self._outbox.session_factory.begin() as session:
                yield SqlUnitOfWork(session, self._outbox, self._replies_topic)


def storage_errors() -> contextlib.AbstractContextManager[None]:
    """Turn the database's errors into the application's: `StorageUnavailableError` for
    one that does not answer, `DataRejectedError` for a value it refuses.

    >>> with storage_errors():  # doctest: +ELLIPSIS
    ...     raise ConnectionRefusedError("connect call failed")
    Traceback (most recent call last):
      ...
    inventory.application.errors.StorageUnavailableError: the inventory database did not ...
    """
    return servicekit.storage.storage_errors(
        "inventory", unavailable=StorageUnavailableError, rejected=DataRejectedError
    )
