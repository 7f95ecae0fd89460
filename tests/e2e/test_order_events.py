"""GET /orders/{id}/events: the saga's transitions as server-sent events, to the end."""

from __future__ import annotations

import json
import typing

from .shop import Shop

Event = dict[str, typing.Any]


async def read_events(shop: Shop, order_id: str, last_event_id: str | None = None) -> list[Event]:
    """Every event of the stream, until the server ends it: {"id", "event", "data"} each."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    url = f"{shop.orders_url}/orders/{order_id}/events"
    events: list[Event] = []
    async with shop.http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    events.append({**fields, "data": json.loads(fields["data"])})
                fields = {}
            elif not line.startswith(":"):  # comments are keep-alives
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return events


async def test_the_stream_follows_the_saga_and_ends_with_the_final_status(
    shop: Shop, sku: str
) -> None:
    await shop.restock(sku, 5)
    order_id = await shop.place_order(sku, 2)

    # Subscribed while the order is (most likely) still pending: events arrive live.
    events = await read_events(shop, order_id)

    assert [event["id"] for event in events] == [str(n) for n in range(1, len(events) + 1)]
    assert [event["event"] for event in events] == ["transition"] * (len(events) - 1) + ["status"]
    assert {event["data"]["order_id"] for event in events} == {order_id}
    assert events[-1]["data"]["order_status"] == "confirmed"
    order = await shop.order(order_id)
    assert order["status"] == "confirmed"
    assert len(events) == len(order["history"])
    assert [(e["data"]["step"], e["data"]["action"]) for e in events] == [
        (entry["step"], entry["action"]) for entry in order["history"]
    ]


async def test_last_event_id_resumes_after_that_event(shop: Shop, sku: str) -> None:
    await shop.restock(sku, 5)
    order_id = await shop.place_order(sku, 1)
    await shop.wait_until_final(order_id)
    everything = await read_events(shop, order_id)
    assert len(everything) >= 2

    resumed = await read_events(shop, order_id, last_event_id="1")

    assert resumed == everything[1:]


async def test_a_rejected_order_ends_its_stream_with_the_reason(shop: Shop, sku: str) -> None:
    order_id = await shop.place_order(sku, 1)  # a SKU nobody restocked

    events = await read_events(shop, order_id)

    final = events[-1]
    assert final["event"] == "status"
    assert final["data"]["order_status"] == "rejected"
    assert (await shop.order(order_id))["reason"] == "insufficient_stock"
