"""`stock.sold`: the units of confirmed orders, 0 for the skus already there.

Revision ID: inventory_0003
Revises: inventory_0002
Create Date: 2026-12-07

Reservations gained the status `sold` too: a plain string, no DDL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import column_missing

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "inventory_0003"
down_revision: str | None = "inventory_0002"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_CHECK = "ck_stock_sold_not_negative"


def upgrade() -> None:
    """Add `sold` (default 0, never negative), unless `create_all` made `stock` with it."""
    if not column_missing("stock", "sold"):
        return
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its own CHECK in place; a table CHECK would mean
        # copying `stock`, which the reservations' foreign key makes awkward.
        op.execute(
            f"ALTER TABLE stock ADD COLUMN sold BIGINT DEFAULT '0' NOT NULL "
            f"CONSTRAINT {_CHECK} CHECK (sold >= 0)"
        )
        return
    op.add_column("stock", sa.Column("sold", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_check_constraint(_CHECK, "stock", "sold >= 0")


def downgrade() -> None:
    """Drop `sold` (what was sold is forgotten)."""
    with op.batch_alter_table("stock") as batch:
        batch.drop_column("sold")
