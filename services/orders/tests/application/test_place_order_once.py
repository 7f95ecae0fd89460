"""`PlaceOrderOnce` on a real database: the key commits with the order, so a retry after a
crash finds the order, and a request that died before its commit left no key; keys expire
after their ttl and the purge deletes them."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import typing

import pytest
import sqlalchemy as sa

import cqrs
from cqrs.idempotency import fingerprint
from cqrs_sqla.idempotency import SqlAlchemyIdempotencyStore
from orders.adapters.database import Database
from orders.adapters.idempotency import KeyPurge
from orders.adapters.unit_of_work import SqlUnitOfWorkFactory
from orders.application.place_order import (
    OrderPlaced,
    PlaceOrder,
    PlaceOrderItem,
    PlaceOrderOnce,
    PlaceOrderOnceHandler,
)
from orders.main import Orders, Overrides, build
from orders.settings import Settings

RowCounts = typing.Callable[[], typing.Awaitable[dict[str, int]]]
TTL = datetime.timedelta(hours=1)
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DEADLINE = 30.0


class Crash(Exception):
    """The process dying in the middle of the transaction."""


class CrashingScreening:
    """An `OrderScreening` whose process dies while the order is screened (the key is
    claimed already, the order not yet stored)."""

    async def send(self, request: cqrs.IRequest[typing.Any]) -> typing.Any:
        raise Crash


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now


def once(key: str = "k-1", quantity: int = 2) -> PlaceOrderOnce:
    item = PlaceOrderItem(sku="tea", quantity=quantity, unit_price=decimal.Decimal("3.50"))
    order = PlaceOrder(customer_id="c-1", items=[item])
    return PlaceOrderOnce(
        order=order, key=key, fingerprint=fingerprint(order.model_dump_json().encode())
    )


async def stored_keys(database: Database) -> int:
    table = database.schema.idempotency
    async with database.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table)
        return (await connection.execute(query)).scalar_one()


def placing(orders: Orders, store: SqlAlchemyIdempotencyStore) -> PlaceOrderOnceHandler:
    """A handler whose keys live in `store`."""
    database = orders.database
    unit_of_work = SqlUnitOfWorkFactory(
        database.session_factory, database.schema, idempotency=store
    )
    return PlaceOrderOnceHandler(unit_of_work, orders.sagas, orders.screening)


async def test_a_retry_after_a_crash_that_followed_the_commit_finds_the_order(
    orders: Orders, stored_rows: RowCounts
) -> None:
    # The first process commits, then dies before it answers: the client saw nothing.
    dying = PlaceOrderOnceHandler(orders.database.unit_of_work(), orders.sagas, orders.screening)
    lost: OrderPlaced = await dying.handle(once())  # the answer that never reached the client

    retried = await orders.requests.send(once())

    assert retried == lost
    assert await stored_rows() == {"orders": 1, "sagas": 1}


async def test_a_request_that_died_before_its_commit_left_no_key(
    orders: Orders, database: Database, stored_rows: RowCounts
) -> None:
    dying = PlaceOrderOnceHandler(database.unit_of_work(), orders.sagas, CrashingScreening())
    with pytest.raises(Crash):
        await dying.handle(once())
    assert await stored_keys(database) == 0

    placed = await orders.requests.send(once())

    assert await stored_rows() == {"orders": 1, "sagas": 1}
    assert await orders.requests.send(once()) == placed


async def test_a_key_is_kept_for_its_ttl_then_is_new(
    orders: Orders, stored_rows: RowCounts
) -> None:
    clock = Clock()
    handler = placing(
        orders, SqlAlchemyIdempotencyStore(orders.database.schema, ttl=TTL, clock=clock)
    )
    first = await handler.handle(once())

    clock.now = START + TTL - datetime.timedelta(seconds=1)
    assert await handler.handle(once()) == first
    clock.now = START + TTL
    later = await handler.handle(once())

    assert later.order_id != first.order_id
    assert await stored_rows() == {"orders": 2, "sagas": 2}


async def test_the_purge_deletes_the_expired_keys_only(orders: Orders, database: Database) -> None:
    clock = Clock()
    store = SqlAlchemyIdempotencyStore(database.schema, ttl=TTL, clock=clock)
    handler = placing(orders, store)
    await handler.handle(once("old"))
    clock.now = START + datetime.timedelta(minutes=30)
    await handler.handle(once("recent"))
    purge = KeyPurge(store, database.session_factory, interval=60.0)

    clock.now = START + TTL
    assert await purge.once() == 1
    assert await stored_keys(database) == 1
    clock.now = START + TTL + datetime.timedelta(minutes=30)
    assert await purge.once() == 1
    assert await stored_keys(database) == 0


async def test_the_purge_runs_until_stopped(orders: Orders, database: Database) -> None:
    clock = Clock()
    store = SqlAlchemyIdempotencyStore(database.schema, ttl=TTL, clock=clock)
    await placing(orders, store).handle(once())
    clock.now = START + TTL
    stop = asyncio.Event()

    running = asyncio.create_task(KeyPurge(store, database.session_factory, 60.0).run(stop))
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE
    while await stored_keys(database):
        assert loop.time() < give_up, f"the expired key is still there after {DEADLINE}s"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, DEADLINE)


def test_the_settings_give_the_keys_their_ttl_and_purge_interval(database: Database) -> None:
    settings = Settings(
        signing="off",
        database_url=str(database.engine.url),
        idempotency_ttl_seconds=90,
        idempotency_purge_seconds=15,
    )

    purge = build(settings, overrides=Overrides(database=database)).key_purge

    assert (purge.store.ttl, purge.interval) == (datetime.timedelta(seconds=90), 15.0)
