"""`SqlAlchemyInbox`: the idempotent consumer's inbox on the schema's `inbox` table.

`record` runs `INSERT ... ON CONFLICT DO NOTHING` on the caller's session, so
the record commits or rolls back with the handler's own writes; whether a
row was inserted tells a new message from a redelivered one:

```
async with session_factory() as session, session.begin():
    if not await inbox.record(session, "inventory", message.message_id):
        return  # this consumer handled the message already
    ...  # the handler's writes, on the same session
```

Concurrent deliveries of one message: exactly one transaction records it.

- PostgreSQL (READ COMMITTED, the default): the second INSERT waits on the
  first transaction's uncommitted key; when that commits it does nothing
  (`False`), when it rolls back it inserts (`True`). Under REPEATABLE READ or
  SERIALIZABLE the second fails with a serialization error instead: roll back
  and redeliver.
- SQLite: one writer at a time. The second transaction waits for the write
  lock, up to the connection's busy timeout, then finds the first one's row
  (or, after a rollback, inserts its own). sqlite3's default timeout is 5
  seconds; `cqrs_sqla.create_engine` sets 30 and makes every
  transaction `BEGIN IMMEDIATE`, so it takes the write lock at its start.
  With a plain engine the driver begins the transaction at its first write,
  and reads before it run outside the transaction: record first.

>>> import asyncio, uuid
>>> from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
>>> from cqrs_sqla.schema import Schema, create_all
>>> async def deliver_twice() -> list[bool]:
...     engine = create_async_engine("sqlite+aiosqlite://")
...     schema = Schema()
...     await create_all(engine, schema)
...     inbox, sessions = SqlAlchemyInbox(schema), async_sessionmaker(engine)
...     message_id, results = uuid.uuid4(), []
...     for _ in range(2):
...         async with sessions() as session, session.begin():
...             results.append(await inbox.record(session, "inventory", message_id))
...     await engine.dispose()
...     return results
>>> asyncio.run(deliver_twice())
[True, False]
"""

from __future__ import annotations

import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.clock import aware_now, utc_now
from cqrs.inbox.repository import check_cutoff, check_key
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.schema import Schema
from cqrs_sqla.statements import insert_unless_present

__all__ = ("SqlAlchemyInbox",)


class SqlAlchemyInbox:
    """`InboxRepository[AsyncSession]` on `schema.inbox`, for PostgreSQL and SQLite.

    `clock` stamps each record's `received_at`, which `purge` compares with
    its cutoff.
    """

    def __init__(
        self, schema: Schema, *, clock: typing.Callable[[], datetime.datetime] = utc_now
    ) -> None:
        self._schema = schema
        self._clock = clock

    @maps_driver_errors
    async def record(self, session: AsyncSession, consumer: str, message_id: uuid.UUID) -> bool:
        """Insert `(consumer, message_id)` in `session`'s transaction, unless it exists.

        Returns `True` when the row was inserted (the message is new; the row
        commits or rolls back with the transaction), `False` when `consumer`
        already handled the message. Waits while another transaction holds an
        uncommitted row for the same message (see the module docstring).
        Raises `InvalidInboxKeyError` for a bad key, `UnsupportedDatabaseError` on
        a database other than PostgreSQL or SQLite, and the driver's errors as
        `cqrs_sqla.errors` says.
        """
        check_key(consumer, message_id)
        received_at = aware_now(self._clock)
        table = self._schema.inbox
        dialect = session.get_bind(clause=table).dialect
        values = {"consumer": consumer, "message_id": message_id, "received_at": received_at}
        statement = insert_unless_present(dialect, table, values, "SqlAlchemyInbox")
        result = await session.execute(statement)
        return typing.cast("sa.CursorResult[typing.Any]", result).rowcount == 1

    @maps_driver_errors
    async def purge(
        self,
        sessions: AsyncSession | typing.Callable[[], AsyncSession],
        older_than: datetime.datetime,
        *,
        consumer: str | None = None,
    ) -> int:
        """Delete records received before `older_than` (only `consumer`'s if given).

        Returns how many were deleted. Given a session, deletes in its
        transaction (the caller commits); given a session factory, such as an
        `async_sessionmaker`, in a transaction of its own that commits. Keep
        records longer than a message can be redelivered: a purged message
        would be handled again. Raises `ValueError` for a naive `older_than`.
        """
        check_cutoff(older_than)
        table = self._schema.inbox
        statement = sa.delete(table).where(table.c.received_at < older_than)
        if consumer is not None:
            statement = statement.where(table.c.consumer == consumer)
        if isinstance(sessions, AsyncSession):
            return await _delete(sessions, statement)
        async with sessions() as session, session.begin():
            return await _delete(session, statement)


async def _delete(session: AsyncSession, statement: sa.Delete) -> int:
    result = await session.execute(statement)
    return typing.cast("sa.CursorResult[typing.Any]", result).rowcount
