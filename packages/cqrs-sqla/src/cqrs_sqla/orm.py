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

import typing

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


class SagaLogModel(Base):
    """A row of the saga step log."""

    __table__ = default_schema().saga_log


class OutboxModel(Base):
    """A row of the outbox table."""

    __table__ = default_schema().outbox


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
