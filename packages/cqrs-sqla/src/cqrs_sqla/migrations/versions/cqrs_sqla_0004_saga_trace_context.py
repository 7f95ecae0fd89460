"""The saga's trace context: the W3C traceparent of the span that last moved it on.

Revision ID: cqrs_sqla_0004
Revises: cqrs_sqla_0003
Create Date: 2026-12-07

A nullable column: existing sagas keep running without one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import column_missing, table_names

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "cqrs_sqla_0004"
down_revision: str | None = "cqrs_sqla_0003"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add `trace_context` to the saga table, unless `create_all` made it with one."""
    saga = table_names(op.get_context()).saga
    if not column_missing(saga, "trace_context"):
        return
    # Batch mode: SQLite alters a table by copying it when it must.
    with op.batch_alter_table(saga) as batch:
        batch.add_column(sa.Column("trace_context", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop the saga table's `trace_context` (the traces lose their links to sagas)."""
    with op.batch_alter_table(table_names(op.get_context()).saga) as batch:
        batch.drop_column("trace_context")
