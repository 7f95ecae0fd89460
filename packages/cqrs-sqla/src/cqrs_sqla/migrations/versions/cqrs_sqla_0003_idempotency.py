"""The idempotency keys of requests and their answers (`cqrs.idempotency`).

Revision ID: cqrs_sqla_0003
Revises: cqrs_sqla_0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import table_missing, table_names

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "cqrs_sqla_0003"
down_revision: str | None = "cqrs_sqla_0002"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the idempotency table, unless `create_all` made it."""
    name = table_names(op.get_context()).idempotency
    if not table_missing(name):
        return
    op.create_table(
        name,
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_created_at", name, ["created_at"])


def downgrade() -> None:
    """Drop the idempotency table: retried requests are then new."""
    op.drop_table(table_names(op.get_context()).idempotency)
