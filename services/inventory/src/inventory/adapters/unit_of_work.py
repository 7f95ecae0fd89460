"""Units of work on SQLAlchemy: the repositories and replies of one transaction.

`TransactionPerUnit` opens a transaction for each unit of work (the HTTP
requests use it); the Kafka consumer's handlers join the transaction of the
message being handled instead (`inventory.adapters.kafka.DeliveryUnitOfWork`).

```
unit_of_work = TransactionPerUnit(outbox, replies_topic="inventory.replies")
async with unit_of_work() as work:  # commits on a clean exit
    stock = await work.stock.lock_or_create("tea")
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing

import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs_sqla.data_errors import is_data_error
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from inventory.adapters.replies import OutboxReplies
from inventory.adapters.repositories import SqlReservationRepository, SqlStockRepository
from inventory.application.errors import DataRejectedError, StorageUnavailableError

__all__ = ("SqlUnitOfWork", "TransactionPerUnit", "storage_errors")

# What a database that is down, unreachable or locked for too long raises.
_UNAVAILABLE: typing.Final = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    OSError,  # asyncpg's connection errors come through unwrapped
    asyncio.TimeoutError,
)


class SqlUnitOfWork:
    """`InventoryUnitOfWork` on `session`; replies go to `outbox` on `replies_topic`."""

    def __init__(
        self, session: AsyncSession, outbox: SqlAlchemyOutboxedEventRepository, replies_topic: str
    ) -> None:
        self.stock = SqlStockRepository(session)
        self.reservations = SqlReservationRepository(session)
        self.replies = OutboxReplies(session, outbox, replies_topic)


class TransactionPerUnit:
    """`UnitOfWorkFactory` opening a transaction of its own on the outbox's session factory."""

    def __init__(self, outbox: SqlAlchemyOutboxedEventRepository, replies_topic: str) -> None:
        self._outbox = outbox
        self._replies_topic = replies_topic

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[SqlUnitOfWork, None]:
        with storage_errors():
            async with self._outbox.session_factory.begin() as session:
                yield SqlUnitOfWork(session, self._outbox, self._replies_topic)


@contextlib.contextmanager
def storage_errors() -> collections.abc.Generator[None, None, None]:
    """Turn the errors of an unreachable database into `StorageUnavailableError`, and a
    value the database refuses into `DataRejectedError` (retrying cannot help that one).

    >>> with storage_errors():  # doctest: +ELLIPSIS
    ...     raise ConnectionRefusedError("connect call failed")
    Traceback (most recent call last):
      ...
    inventory.application.errors.StorageUnavailableError: the inventory database did not ...
    """
    try:
        yield
    except Exception as exc:
        if is_data_error(exc):
            # The driver's message quotes the statement and its values: keep them out
            # of what reaches a client (the error is chained, for the log).
            raise DataRejectedError(
                "the inventory database refused a value of the request (a character or a "
                "number it cannot store); change the value"
            ) from exc
        if isinstance(exc, _UNAVAILABLE):
            raise StorageUnavailableError(
                f"the inventory database did not answer ({type(exc).__name__}: {exc}); "
                f"check INVENTORY_DATABASE_URL and that the database runs"
            ) from exc
        raise
