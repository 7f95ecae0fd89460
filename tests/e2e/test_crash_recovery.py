"""kill -9 of a process while orders are in flight, then a restart: nothing is lost,
nothing is sold twice. On PostgreSQL."""

from __future__ import annotations

import asyncio
import collections.abc

import pytest

from cqrs_demo import ReferenceSystem

from .running import started_system
from .shop import Shop

STOCK = 10
ORDERS = 16


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    with started_system("postgresql", tmp_path_factory.mktemp("system-crashes")) as system:
        yield system


@pytest.mark.parametrize("victim", ["inventory", "orders", "inventory-relay", "orders-relay"])
async def test_orders_in_flight_survive_a_killed_process(
    shop: Shop, system: ReferenceSystem, sku: str, victim: str
) -> None:
    await shop.restock(sku, STOCK)
    order_ids = await asyncio.gather(*(shop.place_order(sku, 1) for _ in range(ORDERS)))
    statuses = [order["status"] for order in await asyncio.gather(*map(shop.order, order_ids))]
    assert "pending" in statuses, "the kill must come while orders are in flight"

    system.kill(victim)
    if victim != "orders":
        # Orders keep coming in while the victim is down.
        order_ids += await asyncio.gather(*(shop.place_order(sku, 1) for _ in range(4)))
    system.restart(victim)

    orders = await shop.wait_until_all_final(order_ids, timeout=180)
    confirmed = sum(
        order["items"][0]["quantity"] for order in orders if order["status"] == "confirmed"
    )
    reasons = {order["reason"] for order in orders if order["status"] == "rejected"}
    assert reasons <= {"insufficient_stock", "inventory_timeout"}
    if reasons == {"insufficient_stock"}:
        assert confirmed == STOCK, "only a lack of stock rejected orders: all of it is sold"
    # A rejected order's release and a confirmed one's sale may still be on their
    # way: wait for them, then check that nothing was lost, reserved or sold twice.
    stock = await shop.wait_for_stock(
        sku, lambda stock: (stock["reserved"], stock["sold"]) == (0, confirmed)
    )
    assert stock["available"] + stock["reserved"] + stock["sold"] == STOCK
