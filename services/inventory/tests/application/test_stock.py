"""Restock and read stock levels through the request mediator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

import cqrs
from cqrs_kafka.local import free_port
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from inventory.adapters.database import create_engine
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory
from inventory.application import GetStock, ListStock, Restock, StockSnapshot, StockView
from inventory.application.errors import StorageUnavailableError, UnknownSkuError
from inventory.domain import InvalidQuantityError
from inventory.main import request_mediator

Read = collections.abc.Callable[[], collections.abc.Awaitable[typing.Any]]


@pytest.fixture
def mediator(unit_of_work: SqlUnitOfWorkFactory) -> cqrs.RequestMediator:
    return request_mediator(unit_of_work)


async def test_restocks_add_up(mediator: cqrs.RequestMediator) -> None:
    assert await mediator.send(Restock(sku="tea", quantity=4)) == StockView(
        sku="tea", available=4, reserved=0, sold=0
    )
    await mediator.send(Restock(sku="tea", quantity=6))
    assert await mediator.send(GetStock(sku="tea")) == StockView(
        sku="tea", available=10, reserved=0, sold=0
    )


async def test_an_unknown_sku_is_an_error_that_says_to_restock(
    mediator: cqrs.RequestMediator,
) -> None:
    with pytest.raises(UnknownSkuError, match=r"restock it first \(POST /stock/kettle/restock\)"):
        await mediator.send(GetStock(sku="kettle"))


async def test_a_rejected_restock_of_a_new_sku_leaves_no_row(
    mediator: cqrs.RequestMediator, levels: Read
) -> None:
    with pytest.raises(InvalidQuantityError):
        await mediator.send(Restock(sku="tea", quantity=0))
    assert await levels() == {}


async def test_concurrent_first_restocks_of_a_sku_all_count(
    mediator: cqrs.RequestMediator, levels: Read
) -> None:
    await asyncio.gather(*(mediator.send(Restock(sku="tea", quantity=1)) for _ in range(10)))
    assert await levels() == {"tea": (10, 0)}


@contextlib.asynccontextmanager
async def database_down(
    snapshot: StockSnapshot | None = None,
) -> collections.abc.AsyncGenerator[cqrs.RequestMediator, None]:
    """The request mediator on a PostgreSQL server that is down (nothing listens on the
    port), with `snapshot` for its stock view."""
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/inventory")
    try:
        outbox = SqlAlchemyOutboxedEventRepository(async_sessionmaker(engine))
        yield request_mediator(SqlUnitOfWorkFactory(outbox, "inventory.replies"), None, snapshot)
    finally:
        await engine.dispose()


async def test_a_database_that_does_not_answer_is_storage_unavailable() -> None:
    async with database_down() as mediator:
        with pytest.raises(StorageUnavailableError, match="INVENTORY_DATABASE_URL"):
            await mediator.send(GetStock(sku="tea"))


async def test_the_stock_view_falls_back_on_the_levels_last_read_marked_stale(
    unit_of_work: SqlUnitOfWorkFactory,
) -> None:
    # One process's snapshot, read through a database that answers, then served by the
    # same process once its database does not.
    snapshot = StockSnapshot()
    answering = request_mediator(unit_of_work, snapshot=snapshot)
    await answering.send(Restock(sku="tea", quantity=4))
    fresh = await answering.send(ListStock())
    assert (fresh.stale, fresh.read_at) == (False, None)

    async with database_down(snapshot) as down:
        last_known = await down.send(ListStock())

    assert last_known.stale
    assert last_known.read_at is not None
    assert last_known.stock == [StockView(sku="tea", available=4, reserved=0, sold=0)]


async def test_without_a_level_read_before_the_stock_view_is_storage_unavailable() -> None:
    async with database_down() as mediator:
        with pytest.raises(StorageUnavailableError, match="no stock level was read"):
            await mediator.send(ListStock())
