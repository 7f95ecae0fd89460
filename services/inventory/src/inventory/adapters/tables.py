"""The inventory's own tables, on a `MetaData` of their own.

The outbox and inbox tables come from `cqrs_sqla.schema.Schema` and live in
the same database (`inventory.adapters.database.create_schema` makes both).

- `stock`: one row per sku, with what is free to reserve, what is held and
  what is sold, and the revenue of the sold units in cents (from the
  prices `order_confirmed` carries); none may go below zero, nor the units in stock (available
  and held) above `MAX_STOCK_LEVEL` (64-bit columns; check constraints back
  the domain's rules up).
- `reservations`: one row per (order, sku), `held`, `released` or `sold`.

`create_schema` runs the Alembic revisions (`inventory.adapters.migrations`):
a `stock` table made before `sold` (or `revenue_cents`) existed gains the
column there. A change
here needs a revision there (`test_migrations.py` fails until it has one).

>>> sorted(metadata.tables)
['reservations', 'stock']
"""

from __future__ import annotations

import sqlalchemy as sa

from cqrs_sqla.schema import NAMING_CONVENTION, UTCDateTime
from inventory.domain import MAX_ORDER_ID_LENGTH, MAX_SKU_LENGTH, MAX_STOCK_LEVEL

__all__ = ("metadata", "reservations", "stock")

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

stock = sa.Table(
    "stock",
    metadata,
    sa.Column("sku", sa.String(MAX_SKU_LENGTH), primary_key=True),
    sa.Column("available", sa.BigInteger(), nullable=False),
    sa.Column("reserved", sa.BigInteger(), nullable=False),
    sa.Column("sold", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("revenue_cents", sa.BigInteger(), nullable=False, server_default="0"),
    sa.CheckConstraint("available >= 0", name="available_not_negative"),
    sa.CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    sa.CheckConstraint("sold >= 0", name="sold_not_negative"),
    sa.CheckConstraint("revenue_cents >= 0", name="revenue_cents_not_negative"),
    sa.CheckConstraint(f"available + reserved <= {MAX_STOCK_LEVEL}", name="level_within_maximum"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("order_id", sa.String(MAX_ORDER_ID_LENGTH), primary_key=True),
    sa.Column("sku", sa.String(MAX_SKU_LENGTH), sa.ForeignKey("stock.sku"), primary_key=True),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reserved_at", UTCDateTime(), nullable=False),
    sa.Column("released_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)
