"""Statements sent straight to the asyncpg connection under an SQLAlchemy one, in its transaction.

A statement run through SQLAlchemy's `Connection` pays for its execution
context, cursor and result, and its asyncpg adapter's prepared-statement
bookkeeping: on a one-statement outbox write, several times what asyncpg
itself costs. The adapters send their hot statements to the asyncpg
connection beneath instead, inside the transaction the SQLAlchemy connection
(a session's, say) holds, so later statements through SQLAlchemy see their
rows and its commit or rollback covers them.

SQLAlchemy's asyncpg adapter sends a transaction's `BEGIN` with its first
statement. `deferred_begin` is that `BEGIN` when it has not been sent yet, to
be awaited before writing on the driver: it goes through the adapter (its
`_start_transaction`, with the connection's isolation level), so that the
adapter commits and rolls back what it began. Adapters without it (another
SQLAlchemy version) give None, and the callers keep to SQLAlchemy.

`execute_joined` sends one statement that way from SQLAlchemy's synchronous
side (a session's commit hooks): its errors are raised as SQLAlchemy would
raise them (`sqlalchemy.exc.IntegrityError` for a duplicate event id, a
dropped connection invalidated), so a caller of `session.commit()` sees what
it saw before.

```python
if not execute_joined(session.connection(), sql, parameters):
    session.connection().exec_driver_sql(sql, parameters)
```
"""

from __future__ import annotations

import collections.abc
import typing

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import await_only

__all__ = ("deferred_begin", "execute_joined")


def deferred_begin(raw: PoolProxiedConnection) -> collections.abc.Awaitable[None] | None:
    """The `BEGIN` SQLAlchemy's asyncpg adapter has deferred on `raw`, to await before a
    statement on its driver; None when there is none to send (sent already, or an
    adapter that defers none). On an autocommit connection awaiting it sends nothing."""
    adapted: typing.Any = raw.dbapi_connection
    start = getattr(adapted, "_start_transaction", None)
    if start is None or getattr(adapted, "_started", True):
        return None
    return typing.cast("collections.abc.Awaitable[None]", start())


def execute_joined(connection: sa.Connection, sql: str, parameters: tuple[typing.Any, ...]) -> bool:
    """Send `sql` (asyncpg's `$n` parameters) to the asyncpg connection under
    `connection`, in its transaction, from SQLAlchemy's greenlet; True once sent.

    False, having sent nothing, where SQLAlchemy must run it: another driver, an
    adapter that does not defer its `BEGIN` as this one does, listeners to statement
    events or `echo` (they would not see it), or a connection in autocommit.
    """
    if connection.dialect.driver != "asyncpg" or _watched(connection):
        return False
    raw = connection.connection
    adapted: typing.Any = raw.dbapi_connection
    if not hasattr(adapted, "_handle_exception"):
        return False
    driver: typing.Any = raw.driver_connection
    if not driver.is_in_transaction():
        begin = deferred_begin(raw)
        if begin is not None:
            await_only(begin)
        if not driver.is_in_transaction():
            return False
    try:
        await_only(driver.execute(sql, *parameters))
    except Exception as error:
        raise _sqlalchemy_error(connection, adapted, sql, parameters, error) from error
    return True


def _watched(connection: sa.Connection) -> bool:
    """Whether SQLAlchemy would log a statement on `connection` (`echo`, or its logger
    at INFO) or fire events for it (any listener to the connection's, the engine's or
    the dialect's events: tracing, `before_cursor_execute`, `handle_error`, ...).

    Read from the flags SQLAlchemy itself checks before each statement: about 1 µs,
    where asking each event for its listeners took 9 µs and more. A version of
    SQLAlchemy without them counts as watched."""
    return bool(
        getattr(connection, "_echo", True)
        or getattr(connection, "_has_events", True)
        or getattr(connection.engine, "_has_events", True)
        or getattr(connection.dialect, "_has_events", True)
    )


def _sqlalchemy_error(
    connection: sa.Connection,
    adapted: typing.Any,
    sql: str,
    parameters: tuple[typing.Any, ...],
    error: Exception,
) -> Exception:
    """`error` (asyncpg's) as SQLAlchemy raises it from a statement: the adapter's DBAPI
    error, chained to asyncpg's, inside `sqlalchemy.exc`'s; a connection that error
    says is gone is invalidated, so the pool does not lend it again."""
    dbapi_error = error
    try:
        adapted._handle_exception(error)  # raises the adapter's DBAPI error for it
    except Exception as translated:
        dbapi_error = translated
    dialect = connection.dialect
    disconnected = dialect.is_disconnect(typing.cast(typing.Any, dbapi_error), adapted, None)
    if disconnected and not connection.invalidated:
        connection.invalidate(dbapi_error)
    return sa_exc.DBAPIError.instance(
        sql,
        parameters,
        dbapi_error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnected,
        dialect=dialect,
    )
