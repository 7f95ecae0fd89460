"""Wake outbox relays when new rows commit: PostgreSQL `NOTIFY`, nothing on SQLite.

`NOTIFY` inside a transaction is delivered when (and only if) it commits,
so a relay listening on `channel(schema)` hears of exactly the rows that
became visible; relays poll as well, so a missed notification only delays.
`insert_notifying` writes outbox rows and notifies in one statement, so a
write costs one round trip, not two.
"""

from __future__ import annotations

import functools
import typing

import sqlalchemy as sa

from cqrs_sqla.joined_driver import execute_joined
from cqrs_sqla.schema import Schema

__all__ = ("channel", "channel_of", "insert_notifying", "notifying_insert", "notify_relays")


def channel(schema: Schema) -> str:
    """The notification channel of the schema's outbox table."""
    return channel_of(schema.outbox)


@functools.lru_cache(maxsize=64)
def channel_of(outbox: sa.Table) -> str:
    """The notification channel of an outbox table."""
    return f"{outbox.name}_new"


def notify_relays(outbox: sa.Table) -> sa.Select[tuple[typing.Any]]:
    """The PostgreSQL statement that wakes `outbox`'s relays when its transaction
    commits: for rows that became pending otherwise than by an insert (a replay)."""
    return sa.select(sa.func.pg_notify(channel_of(outbox), ""))


def insert_notifying(
    connection: sa.Connection,
    outbox: sa.Table,
    rows: typing.Sequence[typing.Mapping[str, typing.Any]],
) -> None:
    """Insert `rows` (column values, all with the same columns) into `outbox` within the
    connection's transaction; on PostgreSQL, notify its relays in the same statement.

    ```python
    insert_notifying(session.connection(), schema.outbox, [outbox_values(message, now)])
    ```
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(outbox.insert(), list(rows))
        return
    sql, parameters = notifying_insert(connection.dialect, outbox, rows)
    # On asyncpg, straight to the driver in the connection's transaction: SQLAlchemy's
    # execution of the statement cost more CPU than asyncpg's (cqrs_sqla.joined_driver).
    if not execute_joined(connection, sql, parameters):
        connection.exec_driver_sql(sql, parameters)


def notifying_insert(
    dialect: sa.Dialect,
    outbox: sa.Table,
    rows: typing.Sequence[typing.Mapping[str, typing.Any]],
) -> tuple[str, tuple[typing.Any, ...]]:
    """The PostgreSQL statement that inserts `rows` (column values, all with the same
    columns, at least one) into `outbox` and notifies its relays, and its parameters
    (`$1`, `$2`, ... in asyncpg's style): what `insert_notifying` sends in a session's
    or connection's transaction, and `cqrs_sqla.pg_outbox` on an asyncpg connection.

    >>> from sqlalchemy.dialects import postgresql
    >>> from cqrs_sqla.schema import Schema
    >>> sql, parameters = notifying_insert(
    ...     postgresql.dialect(), Schema().outbox, [{"topic": "orders", "traceparent": None}]
    ... )
    >>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
    INSERT INTO outbox (topic) SELECT $1::VARCHAR(255)
    FROM (SELECT pg_notify($2::text, '')) AS notified
    >>> parameters
    ('orders', 'outbox_new')
    """
    # A column that is NULL in every row and NULL by default is left out: each
    # array costs its encoding, and most rows carry no trace context or compression.
    optional = _null_by_default(outbox)
    if len(rows) == 1:  # the common case: plain parameters, no arrays to encode
        columns: list[str] = []
        values: list[typing.Any] = []
        for column, value in rows[0].items():
            if value is not None or column not in optional:
                columns.append(column)
                values.append(value)
        values.append(channel_of(outbox))
        return _insert_notifying_sql(dialect, outbox, tuple(columns), True), tuple(values)
    kept = tuple(
        column
        for column in rows[0]
        if column not in optional or any(row[column] is not None for row in rows)
    )
    arrays = tuple([row[column] for row in rows] for column in kept)
    return _insert_notifying_sql(dialect, outbox, kept, False), (*arrays, channel_of(outbox))


@functools.lru_cache(maxsize=64)
def _null_by_default(outbox: sa.Table) -> frozenset[str]:
    """The columns of `outbox` that are NULL when an INSERT leaves them out."""
    return frozenset(
        column.name
        for column in outbox.columns
        if column.nullable and column.server_default is None and column.default is None
    )


@functools.lru_cache(maxsize=64)
def _insert_notifying_sql(
    dialect: sa.Dialect, outbox: sa.Table, columns: tuple[str, ...], single: bool
) -> str:
    """`INSERT ... SELECT <one parameter per column>` for a `single` row, else `INSERT
    ... SELECT FROM unnest(<one array per column>)`, from a one-row subquery that calls
    `pg_notify`: one statement for any number of rows, written once per table, columns
    and form.

    The statement returns no rows, so SQLAlchemy builds no result for it (building
    one was about a tenth of a single-event write's CPU). PostgreSQL keeps a
    subquery with a volatile call as it is, so the notification is sent once per
    statement; if a plan ever ran it once per row, the server would still deliver one,
    as it folds a transaction's identical notifications."""
    quote = dialect.identifier_preparer
    parameters = ", ".join(
        f"${number}::{outbox.c[column].type.compile(dialect)}{'' if single else '[]'}"
        for number, column in enumerate(columns, start=1)
    )
    notified = f"(SELECT pg_notify(${len(columns) + 1}::text, '')) AS notified"
    if single:
        source = f"SELECT {parameters} FROM {notified}"
    else:
        source = f"SELECT source.* FROM unnest({parameters}) AS source, {notified}"
    return (
        f"INSERT INTO {quote.format_table(outbox)} "
        f"({', '.join(quote.quote(column) for column in columns)}) {source}"
    )
