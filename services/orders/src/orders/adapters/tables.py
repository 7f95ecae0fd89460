"""The orders tables, on the service's own `MetaData` (the cqrs tables are in `cqrs_sqla.Schema`).

Prices are stored as whole cents: exact on every database, SQLite included.

>>> sorted(metadata.tables)
['order_items', 'order_summaries', 'orders']
"""

from __future__ import annotations

import sqlalchemy as sa

from cqrs_sqla.schema import NAMING_CONVENTION, UTCDateTime

__all__ = ("metadata", "orders", "order_items", "order_summaries")

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("customer_id", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column(
        "order_id",
        sa.Uuid(),
        sa.ForeignKey("orders.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # The item's position in the order: items read back in the order they were placed.
    sa.Column("line", sa.Integer(), primary_key=True),
    sa.Column("sku", sa.Text(), nullable=False),
    sa.Column("quantity", sa.BigInteger(), nullable=False),
    sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
)

#: The read side (`orders.application.order_history`): one row per order, kept from its
#: domain events, listed by customer.
order_summaries = sa.Table(
    "order_summaries",
    metadata,
    sa.Column("order_id", sa.Uuid(), primary_key=True),
    sa.Column("customer_id", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("total_cents", sa.BigInteger(), nullable=False),
    sa.Column("item_count", sa.Integer(), nullable=False),
    sa.Column("placed_at", UTCDateTime(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Index("ix_order_summaries_customer", "customer_id", "placed_at"),
)
