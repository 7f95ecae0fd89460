"""The HTTP API on a real database; inventory replies go in through the event mediator."""

from __future__ import annotations

import asyncio
import collections.abc
import json
import pathlib
import typing
import uuid

import httpx
import pytest

import cqrs
from cqrs.requests import bootstrap
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    StockRejected,
    StockRejectedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.application.inventory import STOCK_REJECTED, STOCK_RESERVED
from orders.application.place_order import OrderPlaced, PlaceOrder
from orders.entrypoints.errors import INTERNAL, UNAVAILABLE
from orders.entrypoints.http import create_app
from orders.main import Orders, build
from orders.settings import Settings

ORDER = {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 2, "unit_price": "12.50"}]}
STREAM_TIMEOUT = 10.0
Client = httpx.AsyncClient


def client_for(app: typing.Any) -> Client:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders")


@pytest.fixture
async def client(orders: Orders) -> collections.abc.AsyncIterator[Client]:
    app = create_app(
        orders.requests, probes={"database": orders.database_answers}, poll_interval=0.01
    )
    async with client_for(app) as client:
        yield client


async def place(client: Client, orders: Orders) -> str:
    response = await client.post("/orders", json=ORDER)
    assert response.status_code == 202
    await orders.launcher.join()  # the saga now waits for the inventory
    return typing.cast(str, response.json()["order_id"])


async def reserve(orders: Orders, order_id: str) -> None:
    payload = StockReservedPayload(order_id=order_id)
    await orders.events.send(
        StockReserved(event_name=STOCK_RESERVED, topic=INVENTORY_REPLIES, payload=payload)
    )


async def reject(orders: Orders, order_id: str) -> None:
    payload = StockRejectedPayload(order_id=order_id, reason="insufficient_stock", skus=["tea"])
    await orders.events.send(
        StockRejected(event_name=STOCK_REJECTED, topic=INVENTORY_REPLIES, payload=payload)
    )


def events_of(body: str) -> list[tuple[int, str, dict[str, typing.Any]]]:
    """(id, event, data) of each event in an SSE body; comments are skipped."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return events


# --- POST /orders ----------------------------------------------------------------------


async def test_placing_an_order_answers_202_with_its_location(
    client: Client, orders: Orders
) -> None:
    response = await client.post("/orders", json=ORDER)

    assert response.status_code == 202
    body = response.json()
    assert body == {"order_id": body["order_id"], "status": "pending"}
    uuid.UUID(body["order_id"])
    assert response.headers["location"] == f"/orders/{body['order_id']}"
    await orders.launcher.join()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"customer_id": "c-1", "items": []}, "at least one item"),
        (
            {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 0, "unit_price": "1"}]},
            "quantity of 'tea'",
        ),
        (
            {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 1, "unit_price": "1.x"}]},
            "unit_price",
        ),
        (
            {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 1, "unit_price": "-1"}]},
            "unit price of 'tea'",
        ),
        (
            {"customer_id": "c-1", "items": [{"sku": "", "quantity": 1, "unit_price": "1"}]},
            "sku must not be empty",
        ),
        ({"customer_id": "", "items": ORDER["items"]}, "customer_id must not be empty"),
        ({"items": ORDER["items"]}, "customer_id"),
        ({"customer_id": "c-1", "items": [{"sku": "tea", "unit_price": "1"}]}, "quantity"),
        ({"customer_id": "c-1"}, "items"),
    ],
)
async def test_an_invalid_order_is_refused_with_422(
    client: Client,
    stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]],
    body: dict[str, typing.Any],
    complaint: str,
) -> None:
    response = await client.post("/orders", json=body)

    assert response.status_code == 422
    assert complaint in json.dumps(response.json()["detail"])
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_a_body_that_is_not_json_is_refused_with_422(client: Client) -> None:
    response = await client.post(
        "/orders", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422


# --- GET /orders/{id} ------------------------------------------------------------------


async def test_a_confirmed_order_shows_its_items_total_and_history(
    client: Client, orders: Orders
) -> None:
    order_id = await place(client, orders)
    await reserve(orders, order_id)

    response = await client.get(f"/orders/{order_id}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "order_id",
        "customer_id",
        "status",
        "reason",
        "items",
        "total",
        "history",
    }
    assert body["order_id"] == order_id
    assert body["customer_id"] == "c-1"
    assert (body["status"], body["reason"]) == ("confirmed", None)
    assert body["items"] == [{"sku": "tea", "quantity": 2, "unit_price": "12.50"}]
    assert body["total"] == "25.00"
    assert [(e["step"], e["action"], e["status"]) for e in body["history"]] == [
        ("OpenOrder", "act", "completed"),
        ("ReserveStock", "act", "started"),
        ("ReserveStock", "act", "completed"),
        ("ChargePayment", "act", "completed"),
        ("ConfirmOrder", "act", "completed"),
    ]
    for entry in body["history"]:
        assert set(entry) == {"step", "action", "status", "at"}
        assert entry["at"].startswith("20")


async def test_a_rejected_order_shows_its_reason_and_compensation(
    client: Client, orders: Orders
) -> None:
    order_id = await place(client, orders)
    await reject(orders, order_id)

    body = (await client.get(f"/orders/{order_id}")).json()

    assert (body["status"], body["reason"]) == ("rejected", "insufficient_stock")
    assert (body["history"][-1]["step"], body["history"][-1]["action"]) == (
        "OpenOrder",
        "compensate",
    )


@pytest.mark.parametrize("order_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
async def test_an_unknown_or_malformed_id_is_404(client: Client, order_id: str) -> None:
    for path in (f"/orders/{order_id}", f"/orders/{order_id}/events"):
        response = await client.get(path)

        assert response.status_code == 404
        assert "no order" in response.json()["detail"]


# --- GET /orders/{id}/events -----------------------------------------------------------


async def stream_while(
    client: Client, order_id: str, decide: typing.Awaitable[None], **headers: str
) -> httpx.Response:
    """GET the order's events while `decide` runs; the response comes once the stream ends."""
    stream = asyncio.ensure_future(client.get(f"/orders/{order_id}/events", headers=headers))
    await decide
    return await asyncio.wait_for(stream, STREAM_TIMEOUT)


async def test_the_event_stream_ends_with_the_final_status(client: Client, orders: Orders) -> None:
    order_id = await place(client, orders)

    response = await stream_while(client, order_id, reserve(orders, order_id))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert [event_id for event_id, _, _ in events] == [1, 2, 3, 4, 5]
    assert [name for _, name, _ in events] == ["transition"] * 4 + ["status"]
    _, _, last = events[-1]
    assert last["order_id"] == order_id
    assert (last["step"], last["action"], last["status"]) == ("ConfirmOrder", "act", "completed")
    assert (last["order_status"], last["reason"]) == ("confirmed", None)
    assert set(last) == {
        "order_id",
        "step",
        "action",
        "status",
        "at",
        "order_status",
        "reason",
    }


async def test_a_rejection_ends_the_stream_with_its_reason(client: Client, orders: Orders) -> None:
    order_id = await place(client, orders)

    response = await stream_while(client, order_id, reject(orders, order_id))

    *earlier, (_, name, last) = events_of(response.text)
    assert name == "status"
    assert (last["order_status"], last["reason"]) == ("rejected", "insufficient_stock")
    # Each transition says what the order was then: pending until the end.
    assert {(event["order_status"], event["reason"]) for _, _, event in earlier} == {
        ("pending", None)
    }


async def test_last_event_id_resumes_after_that_event(client: Client, orders: Orders) -> None:
    order_id = await place(client, orders)

    response = await stream_while(
        client, order_id, reserve(orders, order_id), **{"Last-Event-ID": "2"}
    )

    assert [event_id for event_id, _, _ in events_of(response.text)] == [3, 4, 5]


async def test_a_client_that_saw_the_end_is_told_to_stop(client: Client, orders: Orders) -> None:
    order_id = await place(client, orders)
    await reserve(orders, order_id)

    response = await client.get(f"/orders/{order_id}/events", headers={"Last-Event-ID": "5"})

    assert response.status_code == 204


# --- GET / and GET /health -------------------------------------------------------------


async def test_the_page_has_the_elements_a_browser_test_drives(client: Client) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for element in ("order-form", "customer", "sku", "quantity", "unit-price", "place"):
        assert f'id="{element}"' in response.text
    for element in ("progress", "status", "reason"):
        assert f'id="{element}"' in response.text
    assert "EventSource" in response.text
    assert "http://" not in response.text
    assert "https://" not in response.text


async def test_health_is_ok_when_the_database_answers(client: Client) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


# --- failures --------------------------------------------------------------------------


def broken_sqlite_url(tmp_path: pathlib.Path) -> str:
    # A file that is not a database rather than a missing directory: a failed connect
    # leaves an aiosqlite thread that may outlive the test's event loop.
    path = tmp_path / "orders.db"
    path.write_bytes(b"this is not an SQLite database" * 100)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def broken_client(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> collections.abc.AsyncIterator[Client]:
    """An app whose database is broken: a file that is no database, a server that is down."""
    url = (
        broken_sqlite_url(tmp_path)
        if request.param == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/orders"
    )
    orders = build(Settings(database_url=url))
    app = create_app(orders.requests, probes={"database": orders.database_answers})
    async with client_for(app) as client:
        yield client
    await orders.database.close()


async def test_a_broken_database_answers_503_without_internals(broken_client: Client) -> None:
    some_id = uuid.uuid4()
    for response in (
        await broken_client.post("/orders", json=ORDER),
        await broken_client.get(f"/orders/{some_id}"),
        await broken_client.get(f"/orders/{some_id}/events"),
    ):
        assert response.status_code == 503
        assert response.json() == {"detail": UNAVAILABLE}
        assert "Traceback" not in response.text


async def test_health_says_which_dependency_failed(broken_client: Client) -> None:
    response = await broken_client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


async def test_an_unexpected_error_answers_500_without_internals() -> None:
    class FailingPlaceOrder(cqrs.RequestHandler[PlaceOrder, OrderPlaced]):
        async def handle(self, request: PlaceOrder) -> OrderPlaced:
            raise RuntimeError("secret internals")

    mediator = bootstrap.bootstrap(commands_mapper=lambda m: m.bind(PlaceOrder, FailingPlaceOrder))
    async with client_for(create_app(mediator)) as client:
        response = await client.post("/orders", json=ORDER)

    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL}
    assert "secret" not in response.text
