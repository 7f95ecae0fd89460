"""The orders revisions: they build what the models describe, and upgrade an older
release's database in place, on PostgreSQL and SQLite."""

from __future__ import annotations

import collections.abc
import datetime
import pathlib
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs_sqla.engine import create_engine
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import throwaway_postgres_database
from orders.adapters import tables
from orders.adapters.migrations import MIGRATIONS
from servicekit.migrations import VERSION_TABLE, SchemaVersionError

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
LATER = NOW + datetime.timedelta(seconds=2)
HEADS = "cqrs_sqla_0004, orders_0002"


def first_release() -> sa.MetaData:
    """The orders tables as `create_all` made them in the first release (fa4b376),
    before the read side: frozen here, whatever `orders.adapters.tables` becomes."""
    metadata = sa.MetaData()
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    sa.Table(
        "order_items",
        metadata,
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("line", sa.Integer(), primary_key=True),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line", name="pk_order_items"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_order_items_order_id_orders", ondelete="CASCADE"
        ),
    )
    return metadata


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> collections.abc.Iterator[str]:
    """A database without any table, one per test."""
    if request.param == "postgresql":
        with throwaway_postgres_database("orders_migrations") as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture
async def engine(empty_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_url)
    yield engine
    await engine.dispose()


MODELS = [tables.metadata, Schema().metadata]


async def test_an_empty_database_upgraded_matches_the_models(engine: AsyncEngine) -> None:
    report = await MIGRATIONS.upgrade(engine)

    assert report.startswith("orders schema: applied ")
    assert report.endswith(f"; now at head {HEADS}")
    assert {"orders_0001", "orders_0002", "cqrs_sqla_0001"} <= set(
        report.removeprefix("orders schema: applied ").split(";")[0].split(", ")
    )
    # Fails when a model changes without a revision (or a revision without its model),
    # the service's tables and the library's alike.
    assert await MIGRATIONS.differences(engine, MODELS) == []
    assert await MIGRATIONS.upgrade(engine) == f"orders schema: already at head {HEADS}"


async def test_the_comparison_finds_a_table_no_revision_made(engine: AsyncEngine) -> None:
    await MIGRATIONS.upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(sa.text("DROP TABLE order_summaries"))

    found = await MIGRATIONS.differences(engine, MODELS)

    assert [change[0] for change in found] == ["add_table", "add_index"]


async def test_a_first_release_database_upgrades_with_its_rows_intact(
    engine: AsyncEngine,
) -> None:
    old = first_release()
    confirmed, pending = uuid.uuid4(), uuid.uuid4()
    orders = [
        order(confirmed, "ann", "confirmed", NOW, LATER),
        order(pending, "bob", "pending", NOW, NOW),
    ]
    items = [
        item(confirmed, 0, "tea", 2, 350),
        item(confirmed, 1, "cup", 1, 1200),
        item(pending, 0, "tea", 1, 350),
    ]
    async with engine.begin() as connection:
        await connection.run_sync(old.create_all)
        await connection.execute(old.tables["orders"].insert(), orders)
        await connection.execute(old.tables["order_items"].insert(), items)
    await create_all(engine, Schema())  # the library's tables, as that release made them too

    await MIGRATIONS.upgrade(engine)

    async with engine.connect() as connection:
        stored_orders = (await connection.execute(sa.select(tables.orders))).mappings().all()
        stored_items = (await connection.execute(sa.select(tables.order_items))).mappings().all()
        summaries = (await connection.execute(sa.select(tables.order_summaries))).mappings().all()
    assert sorted(map(dict, stored_orders), key=str) == sorted(orders, key=str)
    assert sorted(map(dict, stored_items), key=str) == sorted(items, key=str)
    # The read side summarises the orders placed before it existed.
    assert {row["order_id"]: dict(row) for row in summaries} == {
        confirmed: summary(confirmed, "ann", "confirmed", 1900, 2, NOW, LATER),
        pending: summary(pending, "bob", "pending", 350, 1, NOW, None),
    }
    assert await MIGRATIONS.differences(engine, MODELS) == []


async def test_a_database_made_by_todays_create_all_is_adopted(engine: AsyncEngine) -> None:
    await create_all(engine, Schema())
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)

    await MIGRATIONS.upgrade(engine)

    assert await MIGRATIONS.differences(engine, MODELS) == []
    async with engine.connect() as connection:
        heads = (await connection.execute(sa.text(f"SELECT * FROM {VERSION_TABLE}"))).scalars()
        assert sorted(heads) == HEADS.split(", ")


async def test_a_database_behind_is_refused_until_upgraded(engine: AsyncEngine) -> None:
    with pytest.raises(SchemaVersionError, match=r"behind .* run `orders migrate`") as refused:
        await MIGRATIONS.check(engine)
    assert "\n" not in str(refused.value)

    await MIGRATIONS.upgrade(engine)

    await MIGRATIONS.check(engine)


async def test_a_database_a_newer_release_upgraded_is_refused(engine: AsyncEngine) -> None:
    await MIGRATIONS.upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                f"UPDATE {VERSION_TABLE} SET version_num = 'orders_0099' "
                "WHERE version_num = 'orders_0002'"
            )
        )

    with pytest.raises(SchemaVersionError, match="a revision this release does not know"):
        await MIGRATIONS.check(engine)


def order(
    order_id: uuid.UUID,
    customer: str,
    status: str,
    created: datetime.datetime,
    updated: datetime.datetime,
) -> dict[str, object]:
    return {
        "id": order_id,
        "customer_id": customer,
        "status": status,
        "reason": None,
        "created_at": created,
        "updated_at": updated,
    }


def item(order_id: uuid.UUID, line: int, sku: str, quantity: int, cents: int) -> dict[str, object]:
    return {
        "order_id": order_id,
        "line": line,
        "sku": sku,
        "quantity": quantity,
        "unit_price_cents": cents,
    }


def summary(
    order_id: uuid.UUID,
    customer: str,
    status: str,
    total_cents: int,
    item_count: int,
    placed: datetime.datetime,
    decided: datetime.datetime | None,
) -> dict[str, object]:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "status": status,
        "reason": None,
        "total_cents": total_cents,
        "item_count": item_count,
        "placed_at": placed,
        "decided_at": decided,
    }
