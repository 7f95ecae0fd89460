"""The operator console's audit table (`cqrs.admin`), and its status values.

Revision ID: cqrs_sqla_0002
Revises: cqrs_sqla_0001
Create Date: 2026-12-07

The console also brought the outbox status `discarded`, the saga status
`resolved` and the saga log action `resolve`: those columns are plain strings
without a check constraint, so the new values need no DDL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import table_missing, table_names

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "cqrs_sqla_0002"
down_revision: str | None = "cqrs_sqla_0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the audit table, unless `create_all` made it."""
    name = table_names(op.get_context()).audit
    if not table_missing(name):
        return
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_target_id", name, ["target", "id"])
    op.create_index(f"ix_{name}_action_id", name, ["action", "id"])


def downgrade() -> None:
    """Drop the audit table, and what it recorded."""
    op.drop_table(table_names(op.get_context()).audit)
