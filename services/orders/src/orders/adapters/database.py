"""`Database`: the orders service's one database, holding its tables and the cqrs tables.

The orders tables (`orders.adapters.tables`) and the cqrs-sqla tables (outbox,
inbox, saga, saga log) live side by side, so an order, its saga and the
saga's commands can commit in one transaction. Alembic makes and upgrades
both (`orders.adapters.migrations`).

>>> import asyncio
>>> async def demo() -> None:
...     database = Database.connect("sqlite+aiosqlite://")
...     await database.create_schema()
...     await database.ping()
...     await database.close()
>>> asyncio.run(demo())
"""

from __future__ import annotations

import dataclasses
import datetime
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cqrs.idempotency import DEFAULT_TTL
from cqrs_sqla.engine import create_engine
from cqrs_sqla.idempotency import SqlAlchemyIdempotencyStore
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.saga_changes import changes_channel
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema
from orders.adapters.migrations import MIGRATIONS
from orders.adapters.unit_of_work import SqlUnitOfWorkFactory, storage_errors

__all__ = ("DEFAULT_POOL_SIZE", "POOL_OVERFLOW", "Database")

#: Connections the pool keeps (`ORDERS_DATABASE_POOL_SIZE`): enough for the requests,
#: the reply consumer's partitions, the event streams' reads and the workers at once.
DEFAULT_POOL_SIZE: typing.Final = 20
#: Connections opened beyond the pool in a burst, closed once given back.
POOL_OVERFLOW: typing.Final = 10


@dataclasses.dataclass(frozen=True)
class Database:
    """An engine, the cqrs schema, and what the service builds on them."""

    engine: AsyncEngine
    schema: Schema = dataclasses.field(default_factory=Schema)

    @classmethod
    def connect(cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
        """A database for an SQLAlchemy async URL (`sqlite+aiosqlite://...`,
        `postgresql+asyncpg://...`); nothing connects until first use.

        The pool keeps up to `pool_size` connections open once the load has needed
        them (and opens up to `POOL_OVERFLOW` more for a burst, closed after use).
        It tests no connection with a query before lending it: `create_engine`
        replaces one the server closed while it was pooled without a round trip,
        and one that drops while in use fails that use once (a request answers
        503, a reply is consumed again, the recovery worker retries a saga).
        """
        # SQLite engines get BEGIN IMMEDIATE (serialised writers); others are left as they are.
        return cls(create_engine(url, pool_size=pool_size, max_overflow=POOL_OVERFLOW))

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(
        self, idempotency: SqlAlchemyIdempotencyStore | None = None
    ) -> SqlUnitOfWorkFactory:
        """Units of work for the use cases and the saga's steps, claiming idempotency keys
        in `idempotency` (default: `idempotency_store()`); on PostgreSQL the step writes of
        their saga storage wake the event streams of every process when they commit."""
        return SqlUnitOfWorkFactory(
            self.session_factory,
            self.schema,
            idempotency=idempotency,
            changes_channel=changes_channel(self.schema),
        )

    def idempotency_store(
        self, ttl: datetime.timedelta = DEFAULT_TTL
    ) -> SqlAlchemyIdempotencyStore:
        """The clients' idempotency keys, each kept `ttl` after its first use."""
        return SqlAlchemyIdempotencyStore(self.schema, ttl=ttl)

    def saga_storage(self) -> SqlAlchemySagaStorage:
        """The saga storage, one short transaction per call; on PostgreSQL its step and
        status writes also wake the event streams of every process (`SagaChanges`)."""
        return SqlAlchemySagaStorage(
            self.session_factory, self.schema, changes_channel=changes_channel(self.schema)
        )

    def outbox_store(self) -> SqlAlchemyOutboxStore:
        """The relay's side of the outbox the saga's commands are staged in."""
        return SqlAlchemyOutboxStore(self.engine, self.schema)

    async def create_schema(self) -> str:
        """Upgrade the tables to the newest revisions, creating them in an empty database
        (`alembic upgrade heads`); one line saying what was applied.

        Raises `StorageUnavailableError` when the database does not answer.
        """
        with storage_errors():
            return await MIGRATIONS.upgrade(self.engine, self.schema.names)

    async def prepare_schema(self, *, upgrade: bool) -> None:
        """At start-up: `create_schema` when `upgrade`, else raise `SchemaVersionError`
        if the database is behind this release."""
        with storage_errors():
            await MIGRATIONS.at_start(self.engine, self.schema.names, upgrade=upgrade)

    async def ping(self) -> None:
        """Run `SELECT 1`; raises the driver's error when the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
