"""Hostile requests beside good ones, through the whole system on SQLite and PostgreSQL:
each is refused at the edge with a 4xx problem, and the good orders go through."""

from __future__ import annotations

import asyncio
import json

import httpx

from .shop import Shop

PROBLEM_JSON = "application/problem+json"


async def post_order(shop: Shop, customer: str, sku: str) -> httpx.Response:
    body = {"customer_id": customer, "items": [{"sku": sku, "quantity": 1, "unit_price": "1.00"}]}
    return await shop.http.post(
        f"{shop.orders_url}/orders",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )


async def test_a_burst_of_hostile_orders_is_refused_and_the_good_ones_confirmed(
    shop: Shop, sku: str
) -> None:
    await shop.restock(sku, 10)
    hostile = [
        ("burst", "x" * 65),  # a sku longer than the contract's
        ("burst", "x" * 1_000_000),  # over the body limit
        ("burst", "t\x00a"),
        ("c\x00", sku),
        ("\ud800", sku),
    ] * 4

    good_ids, refused = await asyncio.gather(
        asyncio.gather(*(shop.place_order(sku, 1) for _ in range(10))),
        asyncio.gather(*(post_order(shop, customer, bad) for customer, bad in hostile)),
    )
    orders = await shop.wait_until_all_final(good_ids)

    assert {(r.status_code, r.headers["content-type"]) for r in refused} == {
        (422, PROBLEM_JSON),
        (413, PROBLEM_JSON),
    }
    assert {order["status"] for order in orders} == {"confirmed"}
    sold = await shop.wait_until_sold(sku, 10)
    assert sold == {"sku": sku, "available": 0, "reserved": 0, "sold": 10, "revenue": "10.00"}


async def test_the_inventory_refuses_hostile_skus_and_overflow_with_problems(
    shop: Shop, sku: str
) -> None:
    inventory = shop.inventory_url
    nul = await shop.http.get(f"{inventory}/stock/a%00b")
    await shop.restock(sku, 10**12 - 1)
    overflow = await shop.http.post(
        f"{inventory}/stock/{sku}/restock",
        json={"quantity": 2},
        headers=shop.system.config.operator_headers,
    )

    assert (nul.status_code, nul.headers["content-type"]) == (422, PROBLEM_JSON)
    assert (overflow.status_code, overflow.headers["content-type"]) == (409, PROBLEM_JSON)
    # The sku stays usable: an order of it is served.
    order = await shop.wait_until_final(await shop.place_order(sku, 3))
    assert order["status"] == "confirmed"
    sold = await shop.wait_until_sold(sku, 3)
    assert sold == {
        "sku": sku,
        "available": 10**12 - 4,
        "reserved": 0,
        "sold": 3,
        "revenue": "3.00",
    }
