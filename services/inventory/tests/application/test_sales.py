"""The orders' outcomes through the event mediator, on SQLite and PostgreSQL: a confirmed
order's held units are sold, a rejected one's freed, each once."""

from __future__ import annotations

import collections.abc
import decimal
import typing

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import cqrs
from cqrs_sqla.testing import statements_sent
from inventory.adapters import tables
from inventory.adapters.messages import (
    ORDER_CONFIRMED,
    ORDER_EVENTS,
    ORDER_REJECTED,
    ConfirmedItem,
    OrderConfirmed,
    OrderConfirmedPayload,
    OrderRejected,
    OrderRejectedPayload,
)
from inventory.adapters.unit_of_work import SqlUnitOfWorkFactory
from inventory.application import GetStock, Restock
from inventory.main import event_mediator, request_mediator

Command = collections.abc.Callable[..., cqrs.NotificationEvent[typing.Any]]
Read = collections.abc.Callable[[], collections.abc.Awaitable[typing.Any]]

EVENTS_TOPIC = "orders.events"


@pytest.fixture
async def mediator(
    unit_of_work: SqlUnitOfWorkFactory, reserve_stock: Command
) -> cqrs.EventMediator:
    """The event mediator, with 10 tea restocked and 3 of them held by order o-1."""
    await request_mediator(unit_of_work).send(Restock(sku="tea", quantity=10))
    events = event_mediator(unit_of_work)
    await events.send(reserve_stock("o-1", tea=3))
    return events


@pytest.fixture
def sold(engine: AsyncEngine) -> Read:
    """`await sold()`: sku -> (available, reserved, sold), as committed."""
    stock = tables.stock

    async def read() -> dict[str, tuple[int, int, int]]:
        query = sa.select(stock.c.sku, stock.c.available, stock.c.reserved, stock.c.sold)
        async with engine.connect() as connection:
            rows = await connection.execute(query)
            return {row.sku: (row.available, row.reserved, row.sold) for row in rows}

    return read


def confirmed(order_id: str, *items: ConfirmedItem) -> OrderConfirmed:
    payload = OrderConfirmedPayload(order_id=order_id, items=list(items))
    return OrderConfirmed(event_name=ORDER_CONFIRMED, topic=EVENTS_TOPIC, payload=payload)


def rejected(order_id: str) -> OrderRejected:
    payload = OrderRejectedPayload(order_id=order_id)
    return OrderRejected(event_name=ORDER_REJECTED, topic=EVENTS_TOPIC, payload=payload)


async def test_a_confirmed_order_sells_what_it_holds_once(
    mediator: cqrs.EventMediator, sold: Read, reservations: Read
) -> None:
    await mediator.send(confirmed("o-1"))
    await mediator.send(confirmed("o-1"))

    assert await sold() == {"tea": (7, 0, 3)}
    assert await reservations() == [("o-1", "tea", 3, "sold")]


async def test_a_rejected_order_frees_what_it_still_holds(
    mediator: cqrs.EventMediator, sold: Read, reservations: Read
) -> None:
    await mediator.send(rejected("o-1"))

    assert await sold() == {"tea": (10, 0, 0)}
    assert await reservations() == [("o-1", "tea", 3, "released")]


async def test_a_sold_order_is_not_released_by_a_late_release(
    mediator: cqrs.EventMediator, release_stock: Command, sold: Read
) -> None:
    await mediator.send(confirmed("o-1"))
    await mediator.send(release_stock("o-1"))
    await mediator.send(rejected("o-1"))

    assert await sold() == {"tea": (7, 0, 3)}


async def test_an_outcome_of_an_unknown_order_changes_nothing(
    mediator: cqrs.EventMediator, sold: Read
) -> None:
    await mediator.send(confirmed("o-9"))
    await mediator.send(rejected("o-9"))

    assert await sold() == {"tea": (7, 3, 0)}


async def test_a_confirmation_carrying_its_lines_adds_their_revenue_once(
    unit_of_work: SqlUnitOfWorkFactory, mediator: cqrs.EventMediator, sold: Read
) -> None:
    # The order's state travels with the event: two tea lines at their prices.
    lines = (
        ConfirmedItem(sku="tea", quantity=2, unit_price=decimal.Decimal("3.50")),
        ConfirmedItem(sku="tea", quantity=1, unit_price=decimal.Decimal("1.25")),
    )
    await mediator.send(confirmed("o-1", *lines))
    await mediator.send(confirmed("o-1", *lines))

    view = await request_mediator(unit_of_work).send(GetStock(sku="tea"))
    assert await sold() == {"tea": (7, 0, 3)}
    assert (view.sold, view.revenue) == (3, decimal.Decimal("8.25"))


async def test_a_confirmation_sent_before_it_carried_lines_still_sells(
    unit_of_work: SqlUnitOfWorkFactory, mediator: cqrs.EventMediator, sold: Read
) -> None:
    # A record already on the topic from the older orders: only the order id.
    wire = {"event_name": ORDER_CONFIRMED, "topic": EVENTS_TOPIC, "payload": {"order_id": "o-1"}}
    await mediator.send(ORDER_EVENTS[ORDER_CONFIRMED].from_dict(**wire))

    view = await request_mediator(unit_of_work).send(GetStock(sku="tea"))
    assert await sold() == {"tea": (7, 0, 3)}
    assert view.revenue == 0


async def test_an_outcome_reads_the_order_and_its_stock_in_one_statement_and_writes_in_one(
    engine: AsyncEngine,
    unit_of_work: SqlUnitOfWorkFactory,
    mediator: cqrs.EventMediator,
    reserve_stock: Command,
    sold: Read,
) -> None:
    await request_mediator(unit_of_work).send(Restock(sku="cup", quantity=4))
    await mediator.send(reserve_stock("o-2", tea=1, cup=2))

    with statements_sent(engine) as statements:
        await mediator.send(confirmed("o-2"))

    reads = [sql for sql in statements if sql.lstrip().startswith("SELECT")]
    assert len(reads) == 1
    assert "JOIN stock" in reads[0]
    writes = [sql for sql in statements if "UPDATE stock" in sql or "UPDATE reservations" in sql]
    # SQLite has no data-modifying CTEs: the stock's UPDATE is a statement of its own there.
    assert len(writes) == (1 if engine.dialect.name == "postgresql" else 2)
    assert "UPDATE stock" in writes[0]
    assert "UPDATE reservations" in writes[-1]
    assert await sold() == {"tea": (6, 3, 1), "cup": (2, 0, 2)}
