"""Wake outbox relays when new rows commit: PostgreSQL `NOTIFY`, nothing on SQLite.

`NOTIFY` inside a transaction is delivered when (and only if) it commits,
so a relay listening on `channel(schema)` hears of exactly the rows that
became visible; relays poll as well, so a missed notification only delays.
"""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs_sqla.schema import Schema

__all__ = ("channel", "channel_of", "notify_new_rows", "notify_statement")


def channel(schema: Schema) -> str:
    """The notification channel of the schema's outbox table."""
    return channel_of(schema.outbox)


def channel_of(outbox: sa.Table) -> str:
    """The notification channel of an outbox table."""
    return f"{outbox.name}_new"


def notify_statement(outbox: sa.Table) -> sa.Select[tuple[typing.Any]]:
    """The PostgreSQL statement that notifies the relays of `outbox`."""
    return sa.select(sa.func.pg_notify(channel_of(outbox), ""))


async def notify_new_rows(session: AsyncSession, schema: Schema) -> None:
    """Within the session's transaction: tell relays that outbox rows are coming."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(notify_statement(schema.outbox))
