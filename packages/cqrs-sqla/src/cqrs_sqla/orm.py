"""ORM classes over the default schema's tables, in python-cqrs's shapes.

python-cqrs code creates its tables with `Base.metadata.create_all` and may
query `SagaExecutionModel`, `SagaLogModel` or `OutboxModel`; here they are
mapped on the tables of `default_schema()`, which storages and repositories
built without a schema use. The columns are ours (see `cqrs_sqla.schema`),
so the table names and some columns differ from python-cqrs's: migrate an
existing database before switching (see the migration guide).

`rebind_outbox_model(OutboxModel, YourBase, "table")` puts the outbox table
into your own metadata, as python-cqrs's function did, so your migrations
create it; repositories built without a schema then write there.

>>> sorted(Base.metadata.tables) == sorted(default_schema().metadata.tables)
True
>>> SagaExecutionModel.__table__ is default_schema().saga
True
"""

from __future__ import annotations

import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy import orm

from cqrs_sqla.schema import default_schema

__all__ = ("Base", "SagaExecutionModel", "SagaLogModel", "OutboxModel", "rebind_outbox_model")


class Base(orm.DeclarativeBase):
    """Declarative base on the default schema's metadata."""

    metadata = default_schema().metadata


class SagaExecutionModel(Base):
    """A row of the saga table: status, JSON context, version, claim, waiting step."""

    __table__ = default_schema().saga

    # The table's columns, typed (the table itself is `Schema`'s).
    id: orm.Mapped[uuid.UUID]
    name: orm.Mapped[str]
    status: orm.Mapped[str]
    context: orm.Mapped[dict[str, typing.Any]]
    version: orm.Mapped[int]
    recovery_attempts: orm.Mapped[int]
    error: orm.Mapped[str | None]
    waiting_step: orm.Mapped[str | None]
    waiting_action: orm.Mapped[str | None]
    waiting_deadline: orm.Mapped[datetime.datetime | None]
    waiting_attempt: orm.Mapped[int | None]
    owner: orm.Mapped[str | None]
    lease_until: orm.Mapped[datetime.datetime | None]
    created_at: orm.Mapped[datetime.datetime]
    updated_at: orm.Mapped[datetime.datetime]


class SagaLogModel(Base):
    """A row of the saga step log."""

    __table__ = default_schema().saga_log

    id: orm.Mapped[int]
    saga_id: orm.Mapped[uuid.UUID]
    step_name: orm.Mapped[str]
    action: orm.Mapped[str]
    status: orm.Mapped[str]
    details: orm.Mapped[str | None]
    created_at: orm.Mapped[datetime.datetime]


class OutboxModel(Base):
    """A row of the outbox table."""

    __table__ = default_schema().outbox

    id: orm.Mapped[int]
    event_id: orm.Mapped[uuid.UUID]
    event_name: orm.Mapped[str]
    topic: orm.Mapped[str]
    partition_key: orm.Mapped[str | None]
    payload: orm.Mapped[bytes]
    content_encoding: orm.Mapped[str | None]
    traceparent: orm.Mapped[str | None]
    tracestate: orm.Mapped[str | None]
    status: orm.Mapped[str]
    attempts: orm.Mapped[int]
    last_error: orm.Mapped[str | None]
    created_at: orm.Mapped[datetime.datetime]
    next_attempt_at: orm.Mapped[datetime.datetime]
    published_at: orm.Mapped[datetime.datetime | None]


def rebind_outbox_model(
    model: type[typing.Any],
    new_base: type[typing.Any],
    table_name: str | None = None,
) -> None:
    """Copy the default schema's outbox table into `new_base.metadata`, named
    `table_name` (its own name when omitted), and make the default schema use
    that copy.

    Call it once at import time, before any event is written. `model` is
    python-cqrs's first argument (`OutboxModel`), kept so calls written for
    it work; the ORM class itself stays on the original table.
    """
    del model  # the table is what moves; see the docstring
    schema = default_schema()
    metadata = typing.cast(sa.MetaData, new_base.metadata)
    name = table_name or schema.outbox.name
    schema.outbox = schema.outbox.to_metadata(metadata, name=name)
