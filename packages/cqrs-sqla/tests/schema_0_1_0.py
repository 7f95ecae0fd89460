"""The tables as cqrs-sqla 0.1.0 created them (`create_all`), frozen for the upgrade tests.

A copy of 0.1.0's `cqrs_sqla.schema`: it must not follow later changes.
"""

from __future__ import annotations

import sqlalchemy as sa

from cqrs_sqla.schema import NAMING_CONVENTION, UTCDateTime

__all__ = ("metadata_0_1_0",)

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def metadata_0_1_0() -> sa.MetaData:
    """The four tables of 0.1.0, default names."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    pending = sa.text("status = 'pending'")
    sa.Table(
        "outbox",
        metadata,
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_key", sa.String(255), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("content_encoding", sa.String(16), nullable=True),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("tracestate", sa.String(512), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Index("ix_outbox_pending_id", "id", postgresql_where=pending, sqlite_where=pending),
        sa.Index(
            "ix_outbox_pending",
            "next_attempt_at",
            "id",
            postgresql_where=pending,
            sqlite_where=pending,
        ),
        sa.Index(
            "ix_outbox_pending_key",
            "partition_key",
            "id",
            postgresql_where=pending,
            sqlite_where=pending,
        ),
        sa.Index("ix_outbox_status_published_at", "status", "published_at"),
    )
    sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(255), primary_key=True),
        sa.Column("message_id", sa.Uuid(), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Index("ix_inbox_received_at", "received_at"),
    )
    sa.Table(
        "saga",
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
        sa.Index("ix_saga_status_created_at", "status", "created_at"),
    )
    sa.Table(
        "saga_log",
        metadata,
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "saga_id", sa.Uuid(), sa.ForeignKey("saga.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("step_name", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Index("ix_saga_log_saga_id_id", "saga_id", "id"),
    )
    return metadata
