"""The orders tables of the first release: `orders` and `order_items`.

Revision ID: orders_0001
Revises:
Create Date: 2026-12-07

The root of the `orders` branch (cqrs-sqla's tables are the `cqrs_sqla`
branch, see `servicekit.migrations`). A table that `create_all` made already
is kept as it is, with its rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import table_missing

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "orders_0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = ("orders",)
depends_on: str | None = None


def upgrade() -> None:
    """Create `orders` and `order_items` where they are missing."""
    if table_missing("orders"):
        op.create_table(
            "orders",
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("customer_id", sa.Text(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("reason", sa.String(32), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_orders"),
        )
    if table_missing("order_items"):
        op.create_table(
            "order_items",
            sa.Column("order_id", sa.Uuid(), nullable=False),
            sa.Column("line", sa.Integer(), nullable=False),
            sa.Column("sku", sa.Text(), nullable=False),
            sa.Column("quantity", sa.BigInteger(), nullable=False),
            sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("order_id", "line", name="pk_order_items"),
            sa.ForeignKeyConstraint(
                ["order_id"],
                ["orders.id"],
                name="fk_order_items_order_id_orders",
                ondelete="CASCADE",
            ),
        )


def downgrade() -> None:
    """Drop the orders tables, and every order."""
    op.drop_table("order_items")
    op.drop_table("orders")
