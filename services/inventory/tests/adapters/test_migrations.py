"""The inventory revisions: they build what the models describe, and upgrade an older
release's database in place, on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.schema import Schema, create_all
from inventory.adapters import tables
from inventory.adapters.migrations import MIGRATIONS
from servicekit.migrations import SchemaVersionError

NOW = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.timezone.utc)
HEADS = "cqrs_sqla_0004, inventory_0004"
MODELS = [tables.metadata, Schema().metadata]


def an_older_release(bounded: bool) -> sa.MetaData:
    """The inventory tables as `create_all` made them in an older release, frozen here
    whatever `inventory.adapters.tables` becomes: the first (6bfda67, 32-bit levels) or,
    `bounded`, the one before the sold state (be52e3a, 64-bit levels and their bound)."""
    level = sa.BigInteger() if bounded else sa.Integer()
    bound = [
        sa.CheckConstraint(
            "available + reserved <= 1000000000000", name="ck_stock_level_within_maximum"
        )
    ]
    metadata = sa.MetaData()
    sa.Table(
        "stock",
        metadata,
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("available", level, nullable=False),
        sa.Column("reserved", level, nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_stock"),
        sa.CheckConstraint("available >= 0", name="ck_stock_available_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        *(bound if bounded else []),
    )
    sa.Table(
        "reservations",
        metadata,
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sku"], ["stock.sku"], name="fk_reservations_sku_stock"),
        sa.CheckConstraint("quantity > 0", name="ck_reservations_quantity_positive"),
    )
    return metadata


async def test_an_empty_database_upgraded_matches_the_models(engine: AsyncEngine) -> None:
    report = await MIGRATIONS.upgrade(engine)

    assert report.startswith("inventory schema: applied ")
    assert report.endswith(f"; now at head {HEADS}")
    # Fails when a model changes without a revision (or a revision without its model),
    # the service's tables and the library's alike.
    assert await MIGRATIONS.differences(engine, MODELS) == []
    assert await MIGRATIONS.upgrade(engine) == f"inventory schema: already at head {HEADS}"


async def test_the_comparison_finds_a_column_no_revision_made(engine: AsyncEngine) -> None:
    await MIGRATIONS.upgrade(engine)
    extended = sa.MetaData()
    for table in tables.metadata.tables.values():
        table.to_metadata(extended)
    extended.tables["stock"].append_column(sa.Column("damaged", sa.BigInteger()))

    found = await MIGRATIONS.differences(engine, [extended, Schema().metadata])

    assert [change[0] for change in found] == ["add_column"]


@pytest.mark.parametrize("bounded", [False, True], ids=["first-release", "before-sold"])
async def test_an_older_release_database_upgrades_with_its_rows_intact(
    engine: AsyncEngine, bounded: bool
) -> None:
    old = an_older_release(bounded)
    stock = [
        {"sku": "tea", "available": 7, "reserved": 2},
        {"sku": "cup", "available": 0, "reserved": 0},
    ]
    reservations = [
        {
            "order_id": "o-1",
            "sku": "tea",
            "quantity": 2,
            "status": "held",
            "reserved_at": NOW,
            "released_at": None,
        }
    ]
    async with engine.begin() as connection:
        await connection.run_sync(old.create_all)
        await connection.execute(old.tables["stock"].insert(), stock)
        await connection.execute(old.tables["reservations"].insert(), reservations)
    await create_all(engine, Schema())  # the library's tables, as that release made them too

    await MIGRATIONS.upgrade(engine)

    async with engine.connect() as connection:
        stored_stock = (await connection.execute(sa.select(tables.stock))).mappings().all()
        stored = (await connection.execute(sa.select(tables.reservations))).mappings().all()
    # Nothing was sold (nor earned) before the columns existed.
    assert sorted(map(dict, stored_stock), key=str) == sorted(
        ({**row, "sold": 0, "revenue_cents": 0} for row in stock), key=str
    )
    assert list(map(dict, stored)) == reservations
    assert await MIGRATIONS.differences(engine, MODELS) == []
    async with engine.begin() as connection:  # 64-bit levels
        await connection.execute(tables.stock.update().values(available=2**39, reserved=0))
    # The checks came too: sold and revenue are never negative, a level never above the maximum.
    for too_much in ({"sold": -1}, {"revenue_cents": -1}, {"available": 10**12, "reserved": 1}):
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(tables.stock.update().values(too_much))


async def test_a_database_made_by_todays_create_all_is_adopted(engine: AsyncEngine) -> None:
    await create_all(engine, Schema())
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)

    report = await MIGRATIONS.upgrade(engine)

    assert "inventory_0004" in report
    assert await MIGRATIONS.differences(engine, MODELS) == []


async def test_a_database_behind_is_refused_until_upgraded(engine: AsyncEngine) -> None:
    with pytest.raises(SchemaVersionError, match=r"behind .* run `inventory migrate`"):
        await MIGRATIONS.check(engine)

    await MIGRATIONS.upgrade(engine)

    await MIGRATIONS.check(engine)
