"""`SqlAlchemyTransactions`: units of work where an order and its saga share one transaction.

Each unit of work is one session transaction. Its saga storage is a
`SqlAlchemySagaStorage` on that transaction's connection: SQLAlchemy joins the
storage's sessions to the open transaction, so `create_saga` commits (or rolls
back) with the order's rows instead of on its own.
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import datetime
import typing

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cqrs.clock import utc_now
from cqrs_sqla.data_errors import is_data_error
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema
from orders.adapters.repository import SqlAlchemyOrderRepository
from orders.application.errors import DataRejectedError

__all__ = ("SqlAlchemyTransactions", "SqlAlchemyUnitOfWork")


@dataclasses.dataclass(frozen=True)
class SqlAlchemyUnitOfWork:
    """The order repository and the saga storage of one open transaction."""

    orders: SqlAlchemyOrderRepository
    sagas: SqlAlchemySagaStorage


class SqlAlchemyTransactions:
    """The application's `Transactions` on an `async_sessionmaker`.

    ```
    async with transactions() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(saga_id, name, context)
    ```
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._schema = schema
        self._clock = clock

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[SqlAlchemyUnitOfWork, None]:
        """Open a transaction; commit it when the block exits cleanly, else roll it back.

        Raises `DataRejectedError` when the database refuses a value (no retry
        would store it); other database errors come through as they are.
        """
        try:
            async with self._session_factory.begin() as session:
                joined = async_sessionmaker(await session.connection(), expire_on_commit=False)
                yield SqlAlchemyUnitOfWork(
                    SqlAlchemyOrderRepository(session, clock=self._clock),
                    SqlAlchemySagaStorage(joined, self._schema, clock=self._clock),
                )
        except Exception as exc:
            if not is_data_error(exc):
                raise
            # The driver's message quotes the statement and its values: it stays in
            # the chained error, for the log, not in what a client reads.
            raise DataRejectedError(
                "the orders database refused a value of the request (a character or a "
                "number it cannot store); change the value"
            ) from exc
