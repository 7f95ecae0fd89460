"""Writing and reading a test outbox table directly, beside the code under test."""

from __future__ import annotations

import datetime
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.compressors.protocol import Compressor
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent
from cqrs_sqla.encoding import outbox_event, outbox_values
from cqrs_sqla.schema import Schema

__all__ = ("outbox_rows", "write_rows")


async def write_rows(
    engine: AsyncEngine,
    schema: Schema,
    messages: typing.Sequence[Message],
    now: datetime.datetime,
    compressor: Compressor | None = None,
) -> None:
    """Commit `messages` as pending outbox rows written at `now`, in order."""
    async with engine.begin() as connection:
        await connection.execute(
            schema.outbox.insert(), [outbox_values(m, now, compressor) for m in messages]
        )


async def outbox_rows(
    engine: AsyncEngine, schema: Schema, compressor: Compressor | None = None
) -> list[OutboxedEvent]:
    """Every row of the outbox, in id order."""
    async with engine.connect() as connection:
        result = await connection.execute(sa.select(schema.outbox).order_by(schema.outbox.c.id))
        return [outbox_event(row, compressor) for row in result.mappings()]
