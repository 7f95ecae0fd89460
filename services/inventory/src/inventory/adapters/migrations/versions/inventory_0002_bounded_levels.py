"""Stock levels of 64 bits, bounded: `available` and `reserved` become BIGINT, and
together may not pass the domain's maximum (10^12 units per sku).

Revision ID: inventory_0002
Revises: inventory_0001
Create Date: 2026-12-07

A `stock` table `create_all` made with the bound already is left as it is.
On SQLite the table is rebuilt (it changes neither a column's type nor a
table's checks in place): copied aside, dropped, created anew and filled
again, inside the upgrade's transaction. The reservations' foreign key is
checked at commit (`defer_foreign_keys`): their skus are missing between the
drop and the refill, and all there again after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ("branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade")

revision = "inventory_0002"
down_revision: str | None = "inventory_0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

#: The domain's `MAX_STOCK_LEVEL` when this revision was written (a revision does not change).
_MAX_STOCK_LEVEL = 10**12
_BOUND = "ck_stock_level_within_maximum"
_LEVEL = f"available + reserved <= {_MAX_STOCK_LEVEL}"


def upgrade() -> None:
    """Widen the levels and bound them, where the table lacks either."""
    inspector = sa.inspect(op.get_bind())
    narrow = [
        column["name"]
        for column in inspector.get_columns("stock")
        if column["name"] in ("available", "reserved")
        and not isinstance(column["type"], sa.BigInteger)
    ]
    unbounded = _BOUND not in {check["name"] for check in inspector.get_check_constraints("stock")}
    if not (narrow or unbounded):
        return
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_stock_on_sqlite()
        return
    for name in narrow:
        op.alter_column(
            "stock",
            name,
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            existing_nullable=False,
        )
    if unbounded:
        op.create_check_constraint(_BOUND, "stock", _LEVEL)


def downgrade() -> None:
    """Drop the bound (the columns stay 64-bit: narrowing could lose levels)."""
    with op.batch_alter_table("stock") as batch:
        batch.drop_constraint(_BOUND, type_="check")


def _rebuild_stock_on_sqlite() -> None:
    op.execute("PRAGMA defer_foreign_keys = ON")  # until the transaction ends
    op.execute("CREATE TABLE _stock_before_0002 AS SELECT sku, available, reserved FROM stock")
    op.drop_table("stock")
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_stock"),
        sa.CheckConstraint("available >= 0", name="ck_stock_available_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        sa.CheckConstraint(_LEVEL, name=_BOUND),
    )
    op.execute(
        "INSERT INTO stock (sku, available, reserved) "
        "SELECT sku, available, reserved FROM _stock_before_0002"
    )
    op.drop_table("_stock_before_0002")
