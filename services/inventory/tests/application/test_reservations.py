"""Reserve and release through the event mediator, on SQLite and PostgreSQL.

The handlers run in a transaction of their own per command here
(`SqlUnitOfWorkFactory`); the Kafka consumer runs them in the transaction it
opens for each record instead (tests/adapters/test_kafka.py).
"""

from __future__ import annotations

import asyncio
import collections.abc
import typing

import pydantic
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import cqrs
from cqrs_sqla.testing import statements_sent
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory
from inventory.application import Restock
from inventory.domain import MAX_LINE_QUANTITY, MAX_ORDER_LINES, MAX_SKU_LENGTH
from inventory.main import event_mediator, request_mediator

Command = collections.abc.Callable[..., cqrs.NotificationEvent[typing.Any]]
Read = collections.abc.Callable[[], collections.abc.Awaitable[typing.Any]]
Restocker = collections.abc.Callable[..., collections.abc.Awaitable[None]]


@pytest.fixture
def commands(unit_of_work: SqlUnitOfWorkFactory) -> cqrs.EventMediator:
    return event_mediator(unit_of_work)


@pytest.fixture
def restock(unit_of_work: SqlUnitOfWorkFactory) -> Restocker:
    """`await restock(tea=5)`, through the HTTP side's mediator."""
    mediator = request_mediator(unit_of_work)

    async def restock(**quantities: int) -> None:
        for sku, quantity in quantities.items():
            await mediator.send(Restock(sku=sku, quantity=quantity))

    return restock


async def test_reserve_holds_every_item_and_replies_reserved(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    reservations: Read,
    replies: Read,
) -> None:
    await restock(tea=5, cup=2)
    await commands.send(reserve_stock("o-1", tea=2, cup=2))
    assert await levels() == {"tea": (3, 2), "cup": (0, 2)}
    assert await reservations() == [("o-1", "cup", 2, "held"), ("o-1", "tea", 2, "held")]
    assert await replies() == [("stock_reserved", "o-1", {"order_id": "o-1"})]


async def test_reserve_short_of_one_sku_holds_nothing_and_names_the_short_skus(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    reservations: Read,
    replies: Read,
) -> None:
    await restock(tea=5, cup=1)
    await commands.send(reserve_stock("o-1", tea=2, cup=2, kettle=1))
    assert await levels() == {"tea": (5, 0), "cup": (1, 0)}
    assert await reservations() == []
    rejected = {"order_id": "o-1", "reason": "insufficient_stock", "skus": ["cup", "kettle"]}
    assert await replies() == [("stock_rejected", "o-1", rejected)]


async def test_a_second_reserve_of_an_order_replies_again_without_holding_more(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    reservations: Read,
    replies: Read,
) -> None:
    await restock(tea=5)
    await commands.send(reserve_stock("o-1", tea=2))
    await commands.send(reserve_stock("o-1", tea=2))  # another event id: past the inbox
    assert await levels() == {"tea": (3, 2)}
    assert await reservations() == [("o-1", "tea", 2, "held")]
    assert [name for name, _, _ in await replies()] == ["stock_reserved"] * 2


async def test_release_gives_the_stock_back_and_a_second_release_changes_nothing(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    release_stock: Command,
    levels: Read,
    reservations: Read,
    replies: Read,
) -> None:
    await restock(tea=5, cup=2)
    await commands.send(reserve_stock("o-1", tea=2, cup=1))
    await commands.send(release_stock("o-1"))
    assert await levels() == {"tea": (5, 0), "cup": (2, 0)}
    assert await reservations() == [("o-1", "cup", 1, "released"), ("o-1", "tea", 2, "released")]
    await commands.send(release_stock("o-1"))
    assert await levels() == {"tea": (5, 0), "cup": (2, 0)}
    released = ("stock_released", "o-1", {"order_id": "o-1"})
    assert (await replies())[1:] == [released, released]


async def test_releasing_an_unknown_order_replies_released(
    commands: cqrs.EventMediator, release_stock: Command, replies: Read
) -> None:
    await commands.send(release_stock("o-404"))
    assert await replies() == [("stock_released", "o-404", {"order_id": "o-404"})]


async def test_a_released_order_is_not_reserved_again(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    release_stock: Command,
    levels: Read,
) -> None:
    await restock(tea=5)
    await commands.send(reserve_stock("o-1", tea=2))
    await commands.send(release_stock("o-1"))
    await commands.send(reserve_stock("o-1", tea=2))  # late: the order was given up
    assert await levels() == {"tea": (5, 0)}


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([], id="no items"),
        pytest.param([{"sku": "tea", "quantity": 0}], id="quantity 0"),
        pytest.param([{"sku": "tea", "quantity": -2}], id="negative quantity"),
        pytest.param([{"sku": "tea", "quantity": MAX_LINE_QUANTITY + 1}], id="quantity too large"),
        pytest.param([{"sku": "tea", "quantity": True}], id="quantity true"),
        pytest.param([{"sku": "tea", "quantity": "3"}], id="quantity as text"),
        pytest.param([{"sku": "x" * (MAX_SKU_LENGTH + 1), "quantity": 1}], id="sku too long"),
        pytest.param([{"sku": "x" * 1_000_000, "quantity": 1}], id="sku of a megabyte"),
        pytest.param([{"sku": "t\x00a", "quantity": 1}], id="NUL in a sku"),
        pytest.param([{"sku": "tea"}], id="no quantity"),
        pytest.param([{"sku": "tea", "quantity": 1}] * (MAX_ORDER_LINES + 1), id="too many"),
        pytest.param({"sku": "tea", "quantity": 1}, id="not a list"),
    ],
)
async def test_items_breaking_the_contract_are_rejected_at_once_holding_nothing(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    replies: Read,
    caplog: pytest.LogCaptureFixture,
    items: pydantic.JsonValue,
) -> None:
    await restock(tea=5)

    await commands.send(reserve_stock("o-1", items=items))

    rejected: dict[str, object] = {"order_id": "o-1", "reason": "invalid_items", "skus": []}
    assert await replies() == [("stock_rejected", "o-1", rejected)]
    assert await levels() == {"tea": (5, 0)}
    [warning] = [r for r in caplog.records if r.name == "inventory.reservations"]
    assert len(warning.getMessage()) < 300  # the offending value is not logged whole


async def test_concurrent_reserves_never_oversell(
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    reservations: Read,
    replies: Read,
) -> None:
    await restock(tea=10)
    await asyncio.gather(*(commands.send(reserve_stock(f"o-{n}", tea=1)) for n in range(20)))
    assert await levels() == {"tea": (0, 10)}
    assert len(await reservations()) == 10
    names = sorted(name for name, _, _ in await replies())
    assert names == ["stock_rejected"] * 10 + ["stock_reserved"] * 10


async def test_a_reserve_writes_the_stock_and_the_reservations_in_one_statement(
    engine: AsyncEngine,
    commands: cqrs.EventMediator,
    restock: Restocker,
    reserve_stock: Command,
    levels: Read,
    reservations: Read,
) -> None:
    await restock(tea=5, cup=2)
    with statements_sent(engine) as statements:
        await commands.send(reserve_stock("o-1", tea=2, cup=2))

    writes = [sql for sql in statements if "UPDATE stock" in sql or "INTO reservations" in sql]
    # SQLite has no data-modifying CTEs: the stock's UPDATE is a statement of its own there.
    assert len(writes) == (1 if engine.dialect.name == "postgresql" else 2)
    assert "UPDATE stock" in writes[0]
    assert "INSERT INTO reservations" in writes[-1]
    assert await levels() == {"tea": (3, 2), "cup": (0, 2)}
    assert await reservations() == [("o-1", "cup", 2, "held"), ("o-1", "tea", 2, "held")]
