"""The read side's `order_summaries`, one row per order, filled from the orders stored.

Revision ID: orders_0002
Revises: orders_0001
Create Date: 2026-12-07

An order placed before the read side existed gets its summary here, as the
repository would have written it: its total and number of lines from its
items, placed when it was created, decided when it was last updated unless
it is still pending.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import table_missing

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "orders_0002"
down_revision: str | None = "orders_0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_BACKFILL = """
INSERT INTO order_summaries
    (order_id, customer_id, status, reason, total_cents, item_count, placed_at, decided_at)
SELECT o.id, o.customer_id, o.status, o.reason,
       COALESCE(SUM(i.quantity * i.unit_price_cents), 0), COUNT(i.line),
       o.created_at, CASE WHEN o.status = 'pending' THEN NULL ELSE o.updated_at END
FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
GROUP BY o.id, o.customer_id, o.status, o.reason, o.created_at, o.updated_at
"""


def upgrade() -> None:
    """Create `order_summaries` and summarise the orders there, unless `create_all` made it."""
    if not table_missing("order_summaries"):
        return
    op.create_table(
        "order_summaries",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name="pk_order_summaries"),
    )
    op.create_index("ix_order_summaries_customer", "order_summaries", ["customer_id", "placed_at"])
    op.execute(_BACKFILL)


def downgrade() -> None:
    """Drop the read side (the orders keep their own rows)."""
    op.drop_table("order_summaries")
