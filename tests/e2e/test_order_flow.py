"""Orders through the whole system (HTTP -> saga -> outbox -> Kafka -> inventory and back),
on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import decimal
import typing

from .shop import Shop


async def test_an_order_in_stock_is_confirmed_and_sells_its_stock(shop: Shop, sku: str) -> None:
    await shop.restock(sku, 10)

    order_id = await shop.place_order(sku, 3, unit_price="2.50", customer="alice")
    order = await shop.wait_until_final(order_id)

    assert order["status"] == "confirmed"
    assert order["reason"] is None
    assert order["customer_id"] == "alice"
    assert decimal.Decimal(order["total"]) == decimal.Decimal("7.50")
    assert [(item["sku"], item["quantity"]) for item in order["items"]] == [(sku, 3)]
    assert order["history"], "the saga's steps are listed"
    assert {entry["action"] for entry in order["history"]} == {"act"}
    # Confirmed, the order's held units become sold (orders.events -> inventory).
    sold = await shop.wait_until_sold(sku, 3)
    # The confirmation carried its lines and prices: inventory keeps the revenue.
    assert sold == {"sku": sku, "available": 7, "reserved": 0, "sold": 3, "revenue": "7.50"}


async def test_an_order_beyond_the_stock_is_rejected_and_leaves_it_alone(
    shop: Shop, sku: str
) -> None:
    await shop.restock(sku, 2)

    order = await shop.wait_until_final(await shop.place_order(sku, 5))

    assert (order["status"], order["reason"]) == ("rejected", "insufficient_stock")
    assert await shop.stock(sku) == {
        "sku": sku,
        "available": 2,
        "reserved": 0,
        "sold": 0,
        "revenue": "0.00",
    }


async def test_an_order_of_an_unknown_sku_is_rejected_for_insufficient_stock(
    shop: Shop, sku: str
) -> None:
    order = await shop.wait_until_final(await shop.place_order(sku, 1))

    assert (order["status"], order["reason"]) == ("rejected", "insufficient_stock")


async def test_a_declined_payment_rejects_the_order_and_releases_its_stock(
    shop: Shop, sku: str
) -> None:
    await shop.restock(sku, 10)

    # 2 x 600.00 = 1200.00, over the default credit limit of 1000.00.
    order_id = await shop.place_order(sku, 2, unit_price="600.00")
    order = await shop.wait_until_final(order_id)

    assert (order["status"], order["reason"]) == ("rejected", "payment_declined")
    await shop.wait_for_order(
        order_id,
        lambda order: "compensate" in {entry["action"] for entry in order.get("history", [])},
    )
    released = await shop.wait_for_stock(sku, lambda stock: stock["reserved"] == 0)
    assert released == {"sku": sku, "available": 10, "reserved": 0, "sold": 0, "revenue": "0.00"}


async def test_forty_concurrent_orders_for_twenty_units_never_oversell(
    shop: Shop, sku: str
) -> None:
    await shop.restock(sku, 20)

    order_ids = await asyncio.gather(*(shop.place_order(sku, 1) for _ in range(40)))
    orders = await shop.wait_until_all_final(order_ids, timeout=120)

    outcomes = collections.Counter((order["status"], order["reason"]) for order in orders)
    assert outcomes == {("confirmed", None): 20, ("rejected", "insufficient_stock"): 20}
    sold = await shop.wait_until_sold(sku, 20)
    assert sold == {"sku": sku, "available": 0, "reserved": 0, "sold": 20, "revenue": "20.00"}


async def test_unknown_and_malformed_order_ids_are_404(shop: Shop) -> None:
    for order_id in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        response = await shop.http.get(f"{shop.orders_url}/orders/{order_id}")
        assert response.status_code == 404
        assert "detail" in response.json()


async def test_invalid_orders_are_refused_with_422(shop: Shop, sku: str) -> None:
    invalid_bodies: list[dict[str, typing.Any]] = [
        {"customer_id": "", "items": [{"sku": sku, "quantity": 1, "unit_price": "1.00"}]},
        {"customer_id": "bob", "items": []},
        {"customer_id": "bob", "items": [{"sku": sku, "quantity": 0, "unit_price": "1.00"}]},
        {"customer_id": "bob", "items": [{"sku": sku, "quantity": 1, "unit_price": "-1"}]},
    ]
    for body in invalid_bodies:
        response = await shop.http.post(f"{shop.orders_url}/orders", json=body)
        assert response.status_code == 422, body
