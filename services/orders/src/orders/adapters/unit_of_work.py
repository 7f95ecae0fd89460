"""`SqlUnitOfWorkFactory`: units of work where an order and its saga share one transaction.

Each unit of work is one session transaction; the order repository stages the
orders' notifications in the outbox on it. Its saga storage is a
`SqlAlchemySagaStorage` on that transaction's connection: SQLAlchemy joins the
storage's sessions to the open transaction, so `create_saga` commits (or rolls
back) with the order's rows instead of on its own. The idempotency keys
(`SqlAlchemyIdempotencyStore`) are claimed on the same session, so a key is
stored exactly when the order placed under it is. The database's errors
become the application's here (`storage_errors`), and nowhere else.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import contextvars
import dataclasses
import datetime
import typing

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import servicekit.storage
from cqrs.clock import utc_now
from cqrs_sqla.idempotency import SqlAlchemyIdempotencyStore
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema
from cqrs_sqla.sqlite import begin_read
from orders.adapters.idempotency import TransactionKeys
from orders.adapters.repository import SqlAlchemyOrderRepository
from orders.adapters.summaries import SqlOrderSummaries
from orders.application.errors import DataRejectedError, StorageUnavailableError

__all__ = ("SqlUnitOfWork", "SqlUnitOfWorkFactory", "storage_errors")


@dataclasses.dataclass(frozen=True)
class SqlUnitOfWork:
    """The order repository, the saga storage, the read side and the idempotency keys of
    one open transaction."""

    orders: SqlAlchemyOrderRepository
    sagas: SqlAlchemySagaStorage
    summaries: SqlOrderSummaries
    idempotency: TransactionKeys[AsyncSession]


class SqlUnitOfWorkFactory:
    """The application's `UnitOfWorkFactory` on an `async_sessionmaker`; `idempotency`
    keeps the keys (default: a `SqlAlchemyIdempotencyStore` on `schema` with its default
    ttl and `clock`). With `changes_channel` (PostgreSQL), the saga storage's step
    writes send the saga's id on that channel, delivered when the transaction commits.

    ```
    async with unit_of_work() as work:
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
        idempotency: SqlAlchemyIdempotencyStore | None = None,
        changes_channel: str | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._changes_channel = changes_channel
        self._schema = schema
        self._clock = clock
        self.idempotency = idempotency or SqlAlchemyIdempotencyStore(schema, clock=clock)
        # The unit of work open in the current context, with the task that opened it
        # (a task started inside the block copies the context, yet must not join it).
        self._open: contextvars.ContextVar[
            tuple[asyncio.Task[typing.Any] | None, SqlUnitOfWork] | None
        ] = contextvars.ContextVar(f"orders-unit-of-work-{id(self)}", default=None)
        # Stages the orders' notifications on the unit of work's own session.
        self._outbox = SqlAlchemyOutboxedEventRepository(
            session_factory, schema=schema, clock=clock
        )

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[SqlUnitOfWork, None]:
        """Open a transaction; commit it when the block exits cleanly, else roll it back.

        Inside another unit of work of this factory, in the same task, the block
        joins that one's transaction instead: it sees its writes, and the outer
        block commits or rolls back the whole (a saga step's unit of work, run
        in the pass `PlaceOrderHandler` starts in its own transaction).

        Raises `DataRejectedError` when the database refuses a value (no retry
        would store it), `StorageUnavailableError` when it fails otherwise.
        """
        task = asyncio.current_task()
        outer = self._open.get()
        if outer is not None and outer[0] is task:
            yield outer[1]
            return
        with storage_errors():
            async with self._session_factory.begin() as session:
                joined = async_sessionmaker(await session.connection(), expire_on_commit=False)
                summaries = SqlOrderSummaries(session)
                work = SqlUnitOfWork(
                    SqlAlchemyOrderRepository(session, summaries, self._outbox, clock=self._clock),
                    SqlAlchemySagaStorage(
                        joined,
                        self._schema,
                        clock=self._clock,
                        changes_channel=self._changes_channel,
                    ),
                    summaries,
                    TransactionKeys(self.idempotency, session),
                )
                token = self._open.set((task, work))
                try:
                    yield work
                finally:
                    self._open.reset(token)

    @contextlib.asynccontextmanager
    async def reading(self) -> collections.abc.AsyncGenerator[SqlUnitOfWork, None]:
        """A unit of work that only reads, in a transaction of its own, rolled back at the end.

        On SQLite it begins with `cqrs_sqla.sqlite.begin_read`: it takes no write lock,
        so it neither waits for a saga's write transaction nor makes one wait (in WAL
        mode it reads one snapshot). It is for reads: whatever is written in it is
        rolled back (on SQLite a write may also fail with `database is locked`).
        Elsewhere it is an ordinary transaction. Raises as `__call__` does.
        """
        engine = self._session_factory.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError(
                "SqlUnitOfWorkFactory.reading needs a session factory bound to an AsyncEngine, "
                f"not {engine!r}"
            )
        with storage_errors():
            async with engine.connect() as connection:
                await begin_read(connection)
                # Sessions on a connection in a transaction join it, and leave it open.
                joined = async_sessionmaker(connection, expire_on_commit=False)
                async with joined() as session:
                    summaries = SqlOrderSummaries(session)
                    yield SqlUnitOfWork(
                        SqlAlchemyOrderRepository(
                            session, summaries, self._outbox, clock=self._clock
                        ),
                        SqlAlchemySagaStorage(joined, self._schema, clock=self._clock),
                        summaries,
                        TransactionKeys(self.idempotency, session),
                    )
                await connection.rollback()


def storage_errors() -> contextlib.AbstractContextManager[None]:
    """Turn the database's errors into the application's: `StorageUnavailableError` for
    one that does not answer, `DataRejectedError` for a value it refuses.

    >>> with storage_errors():  # doctest: +ELLIPSIS
    ...     raise TimeoutError()
    Traceback (most recent call last):
      ...
    orders.application.errors.StorageUnavailableError: the orders database did not answer ...
    """
    return servicekit.storage.storage_errors(
        "orders", unavailable=StorageUnavailableError, rejected=DataRejectedError
    )
