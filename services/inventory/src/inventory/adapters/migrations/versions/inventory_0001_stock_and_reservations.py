"""The inventory tables before the sold state: `stock` and `reservations`.

Revision ID: inventory_0001
Revises:
Create Date: 2026-12-07

The root of the `inventory` branch (cqrs-sqla's tables are the `cqrs_sqla`
branch, see `servicekit.migrations`). A table that `create_all` made already
is kept as it is, with its rows. Levels are 64-bit and bounded by the
domain's maximum (10^12 units per sku), as the bounded contract made them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cqrs_sqla.migrations import table_missing

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "inventory_0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = ("inventory",)
depends_on: str | None = None

#: The domain's `MAX_STOCK_LEVEL` when this revision was written (a revision does not change).
_MAX_STOCK_LEVEL = 10**12
_TEXT = 64


def upgrade() -> None:
    """Create `stock` and `reservations` where they are missing."""
    if table_missing("stock"):
        op.create_table(
            "stock",
            sa.Column("sku", sa.String(_TEXT), nullable=False),
            sa.Column("available", sa.BigInteger(), nullable=False),
            sa.Column("reserved", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("sku", name="pk_stock"),
            sa.CheckConstraint("available >= 0", name="ck_stock_available_not_negative"),
            sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
            sa.CheckConstraint(
                f"available + reserved <= {_MAX_STOCK_LEVEL}",
                name="ck_stock_level_within_maximum",
            ),
        )
    if table_missing("reservations"):
        op.create_table(
            "reservations",
            sa.Column("order_id", sa.String(_TEXT), nullable=False),
            sa.Column("sku", sa.String(_TEXT), nullable=False),
            sa.Column("quantity", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("order_id", "sku", name="pk_reservations"),
            sa.ForeignKeyConstraint(["sku"], ["stock.sku"], name="fk_reservations_sku_stock"),
            sa.CheckConstraint("quantity > 0", name="ck_reservations_quantity_positive"),
        )


def downgrade() -> None:
    """Drop the inventory tables, and all stock."""
    op.drop_table("reservations")
    op.drop_table("stock")
