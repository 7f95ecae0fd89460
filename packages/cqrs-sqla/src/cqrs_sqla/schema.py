"""The tables cqrs-sqla uses: outbox, inbox, saga, saga log, admin audit log, idempotency keys.

One `MetaData` with a naming convention holds them, so Alembic autogenerate
yields stable constraint and index names. Table names are configurable; the
outbox's default honours the `OUTBOX_SQLA_TABLE` environment variable.

>>> schema = Schema(TableNames(outbox="events_outbox"))
>>> schema.outbox.name, schema.saga.name
('events_outbox', 'saga')
>>> sorted(schema.metadata.tables)
['admin_audit', 'events_outbox', 'idempotency', 'inbox', 'saga', 'saga_log']
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = (
    "Schema",
    "TableNames",
    "UTCDateTime",
    "create_all",
    "default_schema",
    "NAMING_CONVENTION",
)

NAMING_CONVENTION: typing.Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's INTEGER PRIMARY KEY is its rowid, the only column it auto-increments.
BigIntId: sa.types.TypeEngine[int] = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime.datetime]):
    """A time zone aware timestamp, stored in UTC, read back aware on every database.

    SQLite keeps no time zone; this type writes UTC and restores it on load.
    """

    impl: sa.types.TypeEngine[typing.Any] | type[sa.types.TypeEngine[typing.Any]] = sa.DateTime(
        timezone=True
    )
    cache_ok: bool | None = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a time zone aware one")
        value = value.astimezone(datetime.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class TableNames:
    """Names of the tables (change them before creating the schema)."""

    outbox: str = dataclasses.field(
        default_factory=lambda: os.environ.get("OUTBOX_SQLA_TABLE", "outbox")
    )
    inbox: str = "inbox"
    saga: str = "saga"
    saga_log: str = "saga_log"
    #: What operators did to outbox rows and sagas (`cqrs.admin`).
    audit: str = "admin_audit"
    #: Idempotency keys of requests and their answers (`cqrs.idempotency`).
    idempotency: str = "idempotency"

    @classmethod
    def prefixed(cls, prefix: str) -> TableNames:
        """Every default name behind `prefix`: tables of their own beside others (a test's,
        an example's, a second outbox's).

        >>> TableNames.prefixed("billing_").saga_log
        'billing_saga_log'
        """
        defaults = cls()
        return cls(
            **{
                field.name: f"{prefix}{getattr(defaults, field.name)}"
                for field in dataclasses.fields(cls)
            }
        )


class Schema:
    """The tables, built on one `MetaData` (pass your own to share it with your models)."""

    def __init__(
        self, names: TableNames | None = None, metadata: sa.MetaData | None = None
    ) -> None:
        self.names: TableNames = names or TableNames()
        self.metadata: sa.MetaData = metadata or sa.MetaData(naming_convention=NAMING_CONVENTION)
        self.outbox: sa.Table = _outbox_table(self.names.outbox, self.metadata)
        self.inbox: sa.Table = _inbox_table(self.names.inbox, self.metadata)
        self.saga: sa.Table = _saga_table(self.names.saga, self.metadata)
        self.saga_log: sa.Table = _saga_log_table(
            self.names.saga_log, self.names.saga, self.metadata
        )
        self.audit: sa.Table = _audit_table(self.names.audit, self.metadata)
        self.idempotency: sa.Table = _idempotency_table(self.names.idempotency, self.metadata)


@functools.cache
def default_schema() -> Schema:
    """The process's shared `Schema()` with default names, made on first use.

    Storages and repositories built without a schema use it, and so do the
    ORM models in `cqrs_sqla.orm` (python-cqrs's `Base.metadata.create_all`
    creates its tables).
    """
    return Schema()


#: Advisory lock key that serialises schema changes (`create_all`, migrations) on PostgreSQL.
_CREATE_ALL_LOCK = 0x6371_7273_5F73_716C  # "cqrs_sql"


async def create_all(engine: AsyncEngine, schema: Schema) -> None:
    """Create the tables and indexes that do not exist yet (never alters existing ones).

    Several processes may call it at once on a fresh database: on PostgreSQL
    they take turns (an advisory lock), since "check, then create" would
    otherwise race (with `cqrs_sqla.create_engine`, SQLite's write lock does the same).
    """
    async with engine.begin() as connection:
        await lock_schema_changes(connection)
        await connection.run_sync(schema.metadata.create_all)


async def lock_schema_changes(connection: AsyncConnection) -> None:
    """Make the connection's transaction wait for any other one changing the schema.

    On PostgreSQL an advisory lock held until the transaction ends; SQLite's
    write lock (`BEGIN IMMEDIATE` with `cqrs_sqla.create_engine`) does it there.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_CREATE_ALL_LOCK)))


def _outbox_table(name: str, metadata: sa.MetaData) -> sa.Table:
    pending = sa.text("status = 'pending'")
    return sa.Table(
        name,
        metadata,
        # The id orders rows: one key's events are published in id order.
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_key", sa.String(255), nullable=True),
        # The event's wire JSON, compressed when content_encoding says so.
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("content_encoding", sa.String(16), nullable=True),
        # W3C trace context of the transaction that wrote the row.
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("tracestate", sa.String(512), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        # Partial indexes: the relay's scans touch pending rows only, however many
        # delivered rows the table keeps.
        sa.Index(f"ix_{name}_pending_id", "id", postgresql_where=pending, sqlite_where=pending),
        sa.Index(
            f"ix_{name}_pending",
            "next_attempt_at",
            "id",
            postgresql_where=pending,
            sqlite_where=pending,
        ),
        sa.Index(
            f"ix_{name}_pending_key",
            "partition_key",
            "id",
            postgresql_where=pending,
            sqlite_where=pending,
        ),
        sa.Index(f"ix_{name}_status_published_at", "status", "published_at"),
    )


def _inbox_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("consumer", sa.String(255), primary_key=True),
        sa.Column("message_id", sa.Uuid(), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Index(f"ix_{name}_received_at", "received_at"),
    )


def _saga_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recovery_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("waiting_step", sa.String(255), nullable=True),
        sa.Column("waiting_action", sa.String(16), nullable=True),
        sa.Column("waiting_deadline", UTCDateTime(), nullable=True),
        sa.Column("waiting_attempt", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        # The W3C traceparent of the span that last moved the saga on (cqrs-core[otel]).
        sa.Column("trace_context", sa.String(64), nullable=True),
        # Recovery looks for unfinished sagas, oldest first.
        sa.Index(f"ix_{name}_status_created_at", "status", "created_at"),
    )


def _saga_log_table(name: str, saga_table: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        # Monotonic: the log reads back in write order, never by timestamp.
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column(
            "saga_id",
            sa.Uuid(),
            sa.ForeignKey(f"{saga_table}.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step_name", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Index(f"ix_{name}_saga_id_id", "saga_id", "id"),
    )


def _audit_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        # Monotonic: the log reads back newest first by id, never by timestamp.
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Index(f"ix_{name}_target_id", "target", "id"),
        sa.Index(f"ix_{name}_action_id", "action", "id"),
    )


def _idempotency_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("scope", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        # NULL while the claiming transaction has not saved its answer.
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Index(f"ix_{name}_created_at", "created_at"),
    )
