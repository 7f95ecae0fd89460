"""`AsyncpgOutbox`: outbox rows written on the caller's asyncpg connection, in its transaction.

For code that writes its business rows with asyncpg rather than through an
SQLAlchemy session. `await outbox.add(connection, event, key=...)` sends one
statement on the connection: the outbox row's INSERT and the relays' wake-up
call (`pg_notify`), the same statement `SqlAlchemyOutboxedEventRepository`
sends at its session's commit (`cqrs_sqla.notify.notifying_insert`). The row
commits with the caller's transaction and only with it, and the relays hear
of it only then: a rollback drops both.

The connection must be inside a transaction (`async with connection.transaction():`);
outside one each statement would commit on its own, so an event could be
published for business writes that later fail. Such a call is refused with
`cqrs.exceptions.ConfigurationError` before anything is sent, as are an event
whose name is not registered in `cqrs.OutboxedEventMap`
(`UnregisteredEventError`) and one whose payload JSON and key come to more
than `max_message_bytes` (`cqrs.EventTooLargeError`).

The rows are the session path's, column for column, so the relays read them
as they are: `OutboxRelay(SqlAlchemyOutboxStore(engine, schema), broker)` on
the same table publishes them.

```python
outbox = AsyncpgOutbox(ZlibCompressor())
async with connection.transaction():
    await connection.execute("INSERT INTO orders (id) VALUES ($1)", order_id)
    await outbox.add(connection, order_placed, key=order_id)
```

Only asyncpg's `is_in_transaction()` and `execute()` are used, so this module
does not import asyncpg: a pooled connection (`pool.acquire()`) does as well.
"""

from __future__ import annotations

import collections.abc
import datetime
import typing

from sqlalchemy.dialects import postgresql

from cqrs.clock import utc_now
from cqrs.compressors.protocol import Compressor
from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError
from cqrs.outbox.repository import DEFAULT_MAX_MESSAGE_BYTES, outbox_message
from cqrs_sqla.driver_errors import mapped_driver_errors
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.notify import notifying_insert
from cqrs_sqla.schema import Schema, default_schema

if typing.TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

__all__ = ("AsyncpgConnection", "AsyncpgOutbox", "Connection")

# The statement's types are written for PostgreSQL as SQLAlchemy names them; this
# dialect object only compiles them (no driver is loaded for it).
_DIALECT: typing.Final = postgresql.dialect()


class AsyncpgConnection(typing.Protocol):
    """What `AsyncpgOutbox` needs of a connection: `asyncpg.Connection`'s two methods."""

    def is_in_transaction(self) -> bool: ...

    async def execute(self, query: str, *args: typing.Any) -> str: ...


#: What `AsyncpgOutbox` writes on: an asyncpg connection, or one an `asyncpg.Pool` lent.
Connection: typing.TypeAlias = "AsyncpgConnection | PoolConnectionProxy"


class AsyncpgOutbox:
    """Writes outbox rows on an asyncpg connection, inside the caller's transaction.

    `compressor`, `schema`, `clock` and `max_message_bytes` mean what they mean for
    `SqlAlchemyOutboxedEventRepository`; give both the same to write the same rows.
    """

    def __init__(
        self,
        compressor: Compressor | None = None,
        *,
        schema: Schema | None = None,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.compressor = compressor
        self.max_message_bytes = max_message_bytes
        self.schema: Schema = schema or default_schema()
        self._clock = clock

    async def add(
        self,
        connection: Connection,
        event: NotificationEvent[typing.Any],
        *,
        key: str | None = None,
    ) -> None:
        """Write `event` into the outbox on `connection`, in its open transaction: one
        statement, one round trip. The row commits (and wakes the relays) when the
        caller's transaction does.

        Raises, before anything is sent, `ConfigurationError` when the connection is
        not inside a transaction, `UnregisteredEventError` when the event's name is not
        in `OutboxedEventMap`, and `EventTooLargeError` when its payload JSON and key
        come to more than `max_message_bytes`. A second row with the same event id
        raises `cqrs_sqla.IntegrityViolationError` (the transaction is then aborted).
        """
        _require_transaction(connection)
        await self._write(connection, [self._values(event, key)], "AsyncpgOutbox.add")

    async def add_all(
        self,
        connection: Connection,
        events: collections.abc.Iterable[NotificationEvent[typing.Any]],
        *,
        keys: collections.abc.Iterable[str | None] | None = None,
    ) -> None:
        """Write `events` into the outbox on `connection`, in its open transaction and
        in order, with one statement whatever their number; `keys`, when given, holds
        each event's key (as many as there are events). Nothing is written, nor sent,
        if any event is refused (see `add`)."""
        _require_transaction(connection)
        events = list(events)
        chosen = [None] * len(events) if keys is None else list(keys)
        if len(chosen) != len(events):
            raise ValueError(
                f"add_all was given {len(events)} events and {len(chosen)} keys; "
                f"pass one key per event (None for no key), or no keys at all"
            )
        rows = [self._values(event, key) for event, key in zip(events, chosen, strict=True)]
        if rows:
            await self._write(connection, rows, "AsyncpgOutbox.add_all")

    def _values(
        self, event: NotificationEvent[typing.Any], key: str | None
    ) -> dict[str, typing.Any]:
        return outbox_values(
            outbox_message(event, key),
            self._clock(),
            self.compressor,
            max_message_bytes=self.max_message_bytes,
        )

    async def _write(
        self, connection: Connection, rows: list[dict[str, typing.Any]], what: str
    ) -> None:
        sql, parameters = notifying_insert(_DIALECT, self.schema.outbox, rows)
        with mapped_driver_errors(what):
            await connection.execute(sql, *parameters)


def _require_transaction(connection: Connection) -> None:
    if not connection.is_in_transaction():
        raise ConfigurationError(
            "AsyncpgOutbox writes only inside a transaction, so that its events commit "
            "with the business writes or not at all; call it within "
            "`async with connection.transaction():` on the connection that writes them."
        )
