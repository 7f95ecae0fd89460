"""The tables of cqrs-sqla 0.1.0: outbox, inbox, saga and saga log.

Revision ID: cqrs_sqla_0001
Revises:
Create Date: 2026-12-07

A table that exists already (made by `create_all`) is kept as it is, with its rows.
The DDL is spelled out, not taken from `cqrs_sqla.schema`: a revision stays what it
was when released, whatever the models become.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import BRANCH, table_missing, table_names

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "cqrs_sqla_0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = (BRANCH,)
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the 0.1.0 tables that are missing."""
    names = table_names(op.get_context())
    if table_missing(names.outbox):
        _create_outbox(names.outbox)
    if table_missing(names.inbox):
        _create_inbox(names.inbox)
    if table_missing(names.saga):
        _create_saga(names.saga)
    if table_missing(names.saga_log):
        _create_saga_log(names.saga_log, names.saga)


def downgrade() -> None:
    """Drop the 0.1.0 tables, and their rows."""
    names = table_names(op.get_context())
    for name in (names.saga_log, names.saga, names.inbox, names.outbox):
        op.drop_table(name)


def _create_outbox(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
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
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("next_attempt_at", _timestamp(), nullable=False),
        sa.Column("published_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("event_id", name=f"uq_{name}_event_id"),
    )
    pending = sa.text("status = 'pending'")
    for index, columns in (
        ("pending_id", ["id"]),
        ("pending", ["next_attempt_at", "id"]),
        ("pending_key", ["partition_key", "id"]),
    ):
        op.create_index(
            f"ix_{name}_{index}", name, columns, postgresql_where=pending, sqlite_where=pending
        )
    op.create_index(f"ix_{name}_status_published_at", name, ["status", "published_at"])


def _create_inbox(name: str) -> None:
    op.create_table(
        name,
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_received_at", name, ["received_at"])


def _create_saga(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recovery_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("waiting_step", sa.String(255), nullable=True),
        sa.Column("waiting_action", sa.String(16), nullable=True),
        sa.Column("waiting_deadline", _timestamp(), nullable=True),
        sa.Column("waiting_attempt", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_until", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_status_created_at", name, ["status", "created_at"])


def _create_saga_log(name: str, saga: str) -> None:
    op.create_table(
        name,
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("saga_id", sa.Uuid(), nullable=False),
        sa.Column("step_name", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.ForeignKeyConstraint(
            ["saga_id"], [f"{saga}.id"], name=f"fk_{name}_saga_id_{saga}", ondelete="CASCADE"
        ),
    )
    op.create_index(f"ix_{name}_saga_id_id", name, ["saga_id", "id"])
