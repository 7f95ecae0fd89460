"""The wired service: crash recovery and timeouts on a real database, and Kafka end to end."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import datetime
import decimal
import logging
import typing
import uuid

import httpx
import pydantic
import pytest
import sqlalchemy as sa
from faststream.kafka import KafkaBroker

from orders.adapters.database import Database
from orders.adapters.messages import (
    INVENTORY_COMMANDS,
    INVENTORY_REPLIES,
    StockReserved,
    StockReservedPayload,
)
from orders.adapters.payment import SimulatedPayment
from orders.application.get_order import GetOrder, OrderDetails
from orders.application.inventory import RELEASE_STOCK, RESERVE_STOCK, STOCK_RESERVED
from orders.application.place_order import PlaceOrder, PlaceOrderItem
from orders.application.saga import OrderSaga, OrderSagaContext
from orders.domain.order import Order, OrderItem, OrderStatus, RejectionReason
from orders.entrypoints.http import create_app
from orders.main import Orders, Overrides, build
from orders.settings import Settings
from servicekit.auth import new_token

DEADLINE = 60.0
TEA = {"sku": "tea", "quantity": 1, "unit_price": "2.00"}


def tea_order() -> PlaceOrder:
    item = PlaceOrderItem(sku="tea", quantity=2, unit_price=decimal.Decimal("4.00"))
    return PlaceOrder(customer_id="c-1", items=[item])


def stock_reserved(order_id: str) -> StockReserved:
    payload = StockReservedPayload(order_id=order_id)
    return StockReserved(event_name=STOCK_RESERVED, topic=INVENTORY_REPLIES, payload=payload)


async def details(orders: Orders, order_id: str) -> OrderDetails:
    return await orders.requests.send(GetOrder(order_id=uuid.UUID(order_id)))


async def outbox(database: Database) -> list[tuple[str, str | None]]:
    """(event name, key) of every command the saga staged and every notification the
    orders' outcomes did, in order."""
    table = database.schema.outbox
    query = sa.select(table.c.event_name, table.c.partition_key).order_by(table.c.id)
    async with database.engine.connect() as connection:
        return [(name, key) for name, key in await connection.execute(query)]


async def until(
    condition: typing.Callable[[], typing.Awaitable[bool]], deadline: float = DEADLINE
) -> None:
    """Poll `condition` until it holds; fail after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while not await condition():
        assert loop.time() < give_up, f"not reached within {deadline}s"
        await asyncio.sleep(0.05)


async def test_the_order_its_saga_and_the_first_pass_commit_together(
    database: Database,
) -> None:
    orders = build(
        Settings(signing="off", database_url=str(database.engine.url)),
        overrides=Overrides(database=database),
    )
    placed = await orders.requests.send(tea_order())

    # Nothing ran after the POST: its transaction holds the first pass.
    assert await outbox(database) == [(RESERVE_STOCK, placed.order_id)]
    state = await orders.sagas.storage.load_saga_state(uuid.UUID(placed.order_id))
    assert state.waiting is not None
    assert state.waiting.step_name == "ReserveStock"
    await orders.events.send(stock_reserved(placed.order_id))
    assert (await details(orders, placed.order_id)).status is OrderStatus.CONFIRMED


async def test_a_saga_left_by_a_crash_is_finished_by_another_instance(
    database: Database,
) -> None:
    settings = Settings(signing="off", database_url=str(database.engine.url))
    # A saga stored and never run (a crash, or a writer that only creates sagas).
    order = Order.place("c-1", [OrderItem("tea", 2, decimal.Decimal("4.00"))])
    context = OrderSagaContext.of(order)
    async with database.unit_of_work()() as work:
        await work.orders.add(order)
        await work.sagas.create_saga(context.saga_id, OrderSaga.saga_name(), context.to_dict())
    assert await outbox(database) == []

    survivor = build(settings, overrides=Overrides(database=database))
    recovery = dataclasses.replace(survivor.recovery, stale_after=datetime.timedelta(0))
    assert await recovery.run_once() == 1

    assert await outbox(database) == [(RESERVE_STOCK, context.order_id)]
    await survivor.events.send(stock_reserved(context.order_id))
    assert (await details(survivor, context.order_id)).status is OrderStatus.CONFIRMED


async def test_the_recovery_worker_times_out_a_silent_inventory(database: Database) -> None:
    settings = Settings(
        signing="off", database_url=str(database.engine.url), reply_timeout_seconds=0.001
    )
    orders = build(settings, overrides=Overrides(database=database))
    placed = await orders.requests.send(tea_order())

    async def rejected() -> bool:
        await orders.recovery.run_once()
        return (await details(orders, placed.order_id)).status is OrderStatus.REJECTED

    await until(rejected)
    order = await details(orders, placed.order_id)
    assert order.reason is RejectionReason.INVENTORY_TIMEOUT
    assert order.finished
    # The release, then the notification of the rejection (orders.events).
    assert await outbox(database) == [
        (RESERVE_STOCK, placed.order_id),
        (RELEASE_STOCK, placed.order_id),
        ("order_rejected", placed.order_id),
    ]


async def test_a_saga_placed_then_orphaned_by_a_crash_is_recovered_by_another_instance(
    database: Database,
) -> None:
    settings = Settings(
        signing="off", database_url=str(database.engine.url), reply_timeout_seconds=0.001
    )
    # The POST's transaction created the saga unclaimed and committed its first pass;
    # then this instance died, so no reply nor recovery of its own will come.
    placed = await build(settings, overrides=Overrides(database=database)).requests.send(
        tea_order()
    )
    survivor = build(settings, overrides=Overrides(database=database))

    async def rejected() -> bool:
        await survivor.recovery.run_once()
        return (await details(survivor, placed.order_id)).status is OrderStatus.REJECTED

    # No claim of the dead instance's pass holds the saga past its reply deadline.
    await until(rejected)
    assert (await details(survivor, placed.order_id)).reason is RejectionReason.INVENTORY_TIMEOUT


@contextlib.asynccontextmanager
async def fake_inventory(
    bootstrap_servers: str, order_ids: set[str]
) -> collections.abc.AsyncGenerator[KafkaBroker, None]:
    """A stand-in inventory: answers the reserve_stock of `order_ids` with stock_reserved."""
    broker = KafkaBroker(bootstrap_servers)

    @broker.subscriber(
        INVENTORY_COMMANDS, group_id=f"fake-inventory-{uuid.uuid4()}", auto_offset_reset="earliest"
    )
    async def answer(command: dict[str, typing.Any]) -> None:
        order_id = command["payload"]["order_id"]
        if command["event_name"] != RESERVE_STOCK or order_id not in order_ids:
            return  # another test's command
        reply = stock_reserved(order_id)
        await broker.publish(reply.to_dict(), INVENTORY_REPLIES, key=order_id.encode())

    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def test_an_order_is_confirmed_over_kafka(
    database: Database, kafka_bootstrap_servers: str
) -> None:
    settings = Settings(
        signing="off",
        database_url=str(database.engine.url),
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        relay_in_process=True,
    )
    orders = build(settings, overrides=Overrides(database=database))
    order_ids: set[str] = set()
    transport = httpx.ASGITransport(app=create_app(orders.requests, orders.streams))
    async with (
        orders.running(),
        fake_inventory(kafka_bootstrap_servers, order_ids),
        httpx.AsyncClient(transport=transport, base_url="http://orders") as client,
    ):
        response = await client.post("/orders", json=tea_order().model_dump(mode="json"))
        assert response.status_code == 202
        order_id = response.json()["order_id"]
        order_ids.add(order_id)

        async def confirmed() -> bool:
            order = (await client.get(f"/orders/{order_id}")).json()
            return bool(order["status"] == "confirmed")

        await until(confirmed)


async def test_the_app_times_every_message_and_mounts_the_console_only_for_the_admin_scope(
    database: Database,
) -> None:
    token = new_token()
    settings = Settings(signing="off", database_url=str(database.engine.url))
    guarded = build(
        settings.model_copy(update={"operator_tokens": pydantic.SecretStr(f"ops:{token}:admin")}),
        overrides=Overrides(database=database),
    )
    # An operator who may restock but not administer: no console either.
    unguarded = build(
        settings.model_copy(
            update={"operator_tokens": pydantic.SecretStr(f"ops:{token}:stock.restock")}
        ),
        overrides=Overrides(database=database),
    )

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded.app()), base_url="http://orders"
    ) as client:
        placed = await client.post("/orders", json={"customer_id": "c", "items": [TEA]})
        await guarded.events.send(stock_reserved(placed.json()["order_id"]))
        timings = (await client.get("/timings")).json()
        refused = await client.get("/admin/sagas")
        listed = await client.get("/admin/sagas", headers={"Authorization": f"Bearer {token}"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=unguarded.app()), base_url="http://orders"
    ) as client:
        absent = await client.get("/admin/sagas")

    assert placed.status_code == 202
    assert timings["PlaceOrder"]["count"] == 1
    assert timings["stock_reserved"]["count"] == 1  # the event mediator's too
    assert (refused.status_code, listed.status_code, absent.status_code) == (401, 200, 404)
    assert [saga["saga_id"] for saga in listed.json()["items"]] == [placed.json()["order_id"]]


FALLBACK_LINE = "the backup payment provider took the charge of 8.00 (the primary failed)"


@pytest.mark.usefixtures("closed_breaker")
async def test_a_charge_the_backup_took_is_reported_from_its_step_event(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    orders = build(
        Settings(signing="off", database_url=str(database.engine.url), payment_primary_fails=True),
        overrides=Overrides(database=database),
    )
    placed = await orders.requests.send(tea_order())
    assert FALLBACK_LINE not in caplog.text

    with caplog.at_level(logging.WARNING, logger="orders.payment"):
        await orders.events.send(stock_reserved(placed.order_id))

    assert (await details(orders, placed.order_id)).status is OrderStatus.CONFIRMED
    assert f"order {placed.order_id}: {FALLBACK_LINE}" in caplog.text


class Killed(BaseException):
    """The process dying in the middle of a charge."""


class DyingPayment(SimulatedPayment):
    async def charge(self, order_id: str, customer_id: str, amount: decimal.Decimal) -> None:
        raise Killed(f"killed while charging order {order_id}")


@pytest.mark.usefixtures("closed_breaker")
async def test_a_charge_the_backup_took_in_a_recovered_pass_is_reported_too(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(signing="off", database_url=str(database.engine.url))
    crashing = build(
        settings,
        overrides=Overrides(database=database, payment=DyingPayment(decimal.Decimal(100))),
    )
    placed = await crashing.requests.send(tea_order())
    with pytest.raises(Killed):
        await crashing.events.send(stock_reserved(placed.order_id))
    # The dead process's lease ran out.
    saga = database.schema.saga
    async with database.engine.begin() as connection:
        await connection.execute(sa.update(saga).values(lease_until=None))

    survivor = build(
        Settings(signing="off", database_url=str(database.engine.url), payment_primary_fails=True),
        overrides=Overrides(database=database),
    )
    recovery = dataclasses.replace(survivor.recovery, stale_after=datetime.timedelta(0))
    with caplog.at_level(logging.WARNING, logger="orders.payment"):
        assert await recovery.run_once() == 1

    assert (await details(survivor, placed.order_id)).status is OrderStatus.CONFIRMED
    assert f"order {placed.order_id}: {FALLBACK_LINE}" in caplog.text
