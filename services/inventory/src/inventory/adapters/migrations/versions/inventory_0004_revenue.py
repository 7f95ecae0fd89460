"""`stock.revenue_cents`: what the sold units were sold for, 0 for the skus already there.

Revision ID: inventory_0004
Revises: inventory_0003
Create Date: 2026-12-07

The prices come from the lines `order_confirmed` carries; the units sold
before this revision count no revenue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import column_missing

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "inventory_0004"
down_revision: str | None = "inventory_0003"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_CHECK = "ck_stock_revenue_cents_not_negative"


def upgrade() -> None:
    """Add `revenue_cents` (default 0, never negative), unless `create_all` made `stock`
    with it."""
    if not column_missing("stock", "revenue_cents"):
        return
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its own CHECK in place; a table CHECK would mean
        # copying `stock`, which the reservations' foreign key makes awkward.
        op.execute(
            f"ALTER TABLE stock ADD COLUMN revenue_cents BIGINT DEFAULT '0' NOT NULL "
            f"CONSTRAINT {_CHECK} CHECK (revenue_cents >= 0)"
        )
        return
    op.add_column(
        "stock", sa.Column("revenue_cents", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.create_check_constraint(_CHECK, "stock", "revenue_cents >= 0")


def downgrade() -> None:
    """Drop `revenue_cents` (the revenue counted is forgotten)."""
    with op.batch_alter_table("stock") as batch:
        batch.drop_column("revenue_cents")
