"""The HTTP API on a real database; inventory replies go in through the event mediator."""

from __future__ import annotations

import asyncio
import collections.abc
import decimal
import json
import pathlib
import typing
import uuid

import httpx
import pytest

import cqrs
from cqrs.requests import bootstrap
from orders.adapters.database import Database
from orders.adapters.messages import (
    INVENTORY_REPLIES,
    StockRejected,
    StockRejectedPayload,
    StockReserved,
    StockReservedPayload,
)
from orders.application.inventory import STOCK_REJECTED, STOCK_RESERVED
from orders.application.place_order import OrderPlaced, PlaceOrder
from orders.domain.limits import (
    MAX_CUSTOMER_ID_LENGTH,
    MAX_ORDER_ITEMS,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
)
from orders.entrypoints.http import create_app
from orders.main import Orders, Overrides, build
from orders.settings import Settings
from servicekit import PROBLEM_JSON, VALIDATION_ERROR

ORDER = {"customer_id": "c-1", "items": [{"sku": "tea", "quantity": 2, "unit_price": "12.50"}]}
ITEM: list[str | int] = ["body", "items", 0]
JSON_CONTENT = {"content-type": "application/json"}
STREAM_TIMEOUT = 10.0
Client = httpx.AsyncClient


def client_for(app: typing.Any) -> Client:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders")


@pytest.fixture
async def client(orders: Orders) -> collections.abc.AsyncIterator[Client]:
    # With the streams' changes, as the service wires it: a stream starts from the route's read.
    app = create_app(
        orders.requests,
        orders.streams,
        probes={"database": orders.database_answers},
        changes=orders.changes,
    )
    async with client_for(app) as client:
        yield client


async def place(client: Client, orders: Orders) -> str:
    response = await client.post("/orders", json=ORDER)
    assert response.status_code == 202
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


def validation_errors(response: httpx.Response) -> list[dict[str, typing.Any]]:
    """The errors of the 422 validation problem `response`."""
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == VALIDATION_ERROR
    return typing.cast(list[dict[str, typing.Any]], problem["errors"])


def events_of(body: str) -> list[tuple[int, str, dict[str, typing.Any]]]:
    """(id, event, data) of each event in an SSE body; comments are skipped."""
    events: list[tuple[int, str, dict[str, typing.Any]]] = []
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
    accepted = {"accepted": True, "rule": "accept", "detail": "no rule refused the order"}
    assert body == {"order_id": body["order_id"], "status": "pending", "screening": accepted}
    uuid.UUID(body["order_id"])
    assert response.headers["location"] == f"/orders/{body['order_id']}"


def item(**changes: object) -> dict[str, object]:
    return {"sku": "tea", "quantity": 1, "unit_price": "1.00", **changes}


@pytest.mark.parametrize(
    ("body", "where", "rule"),
    [
        ({"customer_id": "c-1", "items": []}, ["body", "items"], "too_short"),
        ({"customer_id": "c-1", "items": [item()] * 101}, ["body", "items"], "too_long"),
        (
            {"customer_id": "c-1", "items": [item(quantity=0)]},
            [*ITEM, "quantity"],
            "greater_than_equal",
        ),
        (
            {"customer_id": "c-1", "items": [item(quantity=10_001)]},
            [*ITEM, "quantity"],
            "less_than_equal",
        ),
        ({"customer_id": "c-1", "items": [item(quantity=True)]}, [*ITEM, "quantity"], "int_type"),
        ({"customer_id": "c-1", "items": [item(quantity="3")]}, [*ITEM, "quantity"], "int_type"),
        ({"customer_id": "c-1", "items": [item(quantity=2.5)]}, [*ITEM, "quantity"], "int_type"),
        (
            {"customer_id": "c-1", "items": [item(unit_price="1.x")]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        (
            {"customer_id": "c-1", "items": [item(unit_price="-1")]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        (
            {"customer_id": "c-1", "items": [item(unit_price="1.005")]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        (
            {"customer_id": "c-1", "items": [item(unit_price="NaN")]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        (
            {"customer_id": "c-1", "items": [item(unit_price=12.5)]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        (
            {"customer_id": "c-1", "items": [item(unit_price="1000000000.01")]},
            [*ITEM, "unit_price"],
            "value_error",
        ),
        ({"customer_id": "c-1", "items": [item(sku="")]}, [*ITEM, "sku"], "string_too_short"),
        (
            {"customer_id": "c-1", "items": [item(sku="  ")]},
            [*ITEM, "sku"],
            "string_pattern_mismatch",
        ),
        ({"customer_id": "c-1", "items": [item(sku="x" * 65)]}, [*ITEM, "sku"], "string_too_long"),
        (
            {"customer_id": "c-1", "items": [item(sku="t\x00a")]},
            [*ITEM, "sku"],
            "string_pattern_mismatch",
        ),
        ({"customer_id": "", "items": [item()]}, ["body", "customer_id"], "string_too_short"),
        (
            {"customer_id": "c\x00", "items": [item()]},
            ["body", "customer_id"],
            "string_pattern_mismatch",
        ),
        ({"customer_id": "c" * 65, "items": [item()]}, ["body", "customer_id"], "string_too_long"),
        ({"items": [item()]}, ["body", "customer_id"], "missing"),
        (
            {"customer_id": "c-1", "items": [{"sku": "tea", "unit_price": "1"}]},
            [*ITEM, "quantity"],
            "missing",
        ),
        ({"customer_id": "c-1"}, ["body", "items"], "missing"),
    ],
)
async def test_an_order_breaking_the_contract_is_refused_with_422_and_stores_nothing(
    client: Client,
    stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]],
    body: dict[str, typing.Any],
    where: list[str | int],
    rule: str,
) -> None:
    response = await client.post("/orders", json=body)

    assert [(error["loc"], error["type"]) for error in validation_errors(response)] == [
        (where, rule)
    ]
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_a_lone_surrogate_is_refused_with_422(
    client: Client, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    # JSON can carry one as an escape; no database stores it.
    body = (
        b'{"customer_id": "\\ud800", "items": [{"sku": "tea", "quantity": 1, "unit_price": "1"}]}'
    )
    response = await client.post("/orders", content=body, headers=JSON_CONTENT)

    assert [error["type"] for error in validation_errors(response)] == ["string_unicode"]
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_a_megabyte_sku_is_refused_without_being_echoed(
    client: Client, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    body = json.dumps({"customer_id": "c-1", "items": [item(sku="x" * 1_000_000)]})
    response = await client.post(
        "/orders", content=body, headers={**JSON_CONTENT, "content-length": str(len(body))}
    )

    # Over the body limit: refused before it is read. (A sku just over the contract's
    # length in a small body is a 422, above.)
    assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM_JSON)
    assert len(response.content) < 1000
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_an_order_of_forty_thousand_items_is_refused_with_413(
    client: Client, stored_rows: typing.Callable[[], typing.Awaitable[dict[str, int]]]
) -> None:
    response = await client.post("/orders", json={"customer_id": "c-1", "items": [item()] * 40_000})

    assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM_JSON)
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_the_largest_valid_order_is_accepted(client: Client, orders: Orders) -> None:
    largest = {
        "customer_id": "c" * MAX_CUSTOMER_ID_LENGTH,
        "items": [
            item(sku=f"{n:03}".ljust(MAX_SKU_LENGTH, "s"), quantity=MAX_QUANTITY)
            for n in range(MAX_ORDER_ITEMS)
        ],
    }

    response = await client.post("/orders", json=largest)

    assert response.status_code == 202


async def test_a_body_that_is_not_json_is_refused_with_415(client: Client) -> None:
    response = await client.post(
        "/orders", content=json.dumps(ORDER), headers={"content-type": "text/plain"}
    )

    assert (response.status_code, response.headers["content-type"]) == (415, PROBLEM_JSON)


async def test_a_body_that_is_not_json_is_refused_with_422(client: Client) -> None:
    response = await client.post("/orders", content=b"{not json", headers=JSON_CONTENT)

    assert [error["type"] for error in validation_errors(response)] == ["json_invalid"]


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
        "trace_id",
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

        assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM_JSON)
        assert "no order" in response.json()["detail"]


# --- GET /orders/{id}/events -----------------------------------------------------------


async def stream_while(
    client: Client,
    order_id: str,
    decide: typing.Awaitable[None],
    last_event_id: bytes | None = None,
) -> httpx.Response:
    """GET the order's events while `decide` runs; the response comes once the stream ends."""
    headers = [] if last_event_id is None else [(b"Last-Event-ID", last_event_id)]
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

    response = await stream_while(client, order_id, reserve(orders, order_id), last_event_id=b"2")

    assert [event_id for event_id, _, _ in events_of(response.text)] == [3, 4, 5]


@pytest.mark.parametrize(
    "last_event_id",
    # "²" as the server reads it (headers are Latin-1): a digit to `str.isdigit`, not to int().
    ["²".encode("latin-1"), b"9" * 5000, b"-1", b"3x", b""],
)
async def test_an_unusable_last_event_id_is_treated_as_absent(
    client: Client, orders: Orders, last_event_id: bytes
) -> None:
    order_id = await place(client, orders)

    response = await stream_while(
        client, order_id, reserve(orders, order_id), last_event_id=last_event_id
    )

    assert response.status_code == 200
    assert [event_id for event_id, _, _ in events_of(response.text)] == [1, 2, 3, 4, 5]


async def test_a_client_that_saw_the_end_is_told_to_stop(client: Client, orders: Orders) -> None:
    order_id = await place(client, orders)
    await reserve(orders, order_id)

    response = await client.get(f"/orders/{order_id}/events", headers={"Last-Event-ID": "5"})

    assert response.status_code == 204


# --- GET /orders?customer_id= (the read side) ---------------------------------------------


async def test_the_customers_orders_are_listed_with_their_outcome(
    client: Client, orders: Orders
) -> None:
    order_id = await place(client, orders)
    await reserve(orders, order_id)

    response = await client.get("/orders", params={"customer_id": "c-1"})

    assert response.status_code == 200
    [summary] = response.json()["orders"]
    assert (summary["order_id"], summary["status"], summary["total"]) == (
        order_id,
        "confirmed",
        "25.00",
    )
    assert summary["decided_at"] is not None


async def test_listing_orders_needs_a_customer_id(client: Client) -> None:
    response = await client.get("/orders")

    assert [error["loc"] for error in validation_errors(response)] == [["query", "customer_id"]]


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
    orders = build(Settings(signing="off", database_url=url))
    app = create_app(orders.requests, orders.streams, probes={"database": orders.database_answers})
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
        assert (response.status_code, response.headers["content-type"]) == (503, PROBLEM_JSON)
        assert "try again" in response.json()["detail"]
        assert "Traceback" not in response.text
        assert "127.0.0.1" not in response.text


async def test_health_says_which_dependency_failed(broken_client: Client) -> None:
    response = await broken_client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


async def test_an_unexpected_error_answers_500_without_internals() -> None:
    class FailingPlaceOrder(cqrs.RequestHandler[PlaceOrder, OrderPlaced]):
        async def handle(self, request: PlaceOrder) -> OrderPlaced:
            raise RuntimeError("secret internals")

    mediator = bootstrap.bootstrap(commands_mapper=lambda m: m.bind(PlaceOrder, FailingPlaceOrder))
    async with client_for(create_app(mediator, bootstrap.bootstrap_streaming())) as client:
        response = await client.post("/orders", json=ORDER)

    assert (response.status_code, response.headers["content-type"]) == (500, PROBLEM_JSON)
    assert response.json()["detail"] == (
        "the orders service failed to handle the request; it logged why"
    )
    assert "secret" not in response.text


# --- the OpenAPI document ----------------------------------------------------------------


def test_the_openapi_document_declares_every_answer_and_the_bounds() -> None:
    app = create_app(bootstrap.bootstrap(), bootstrap.bootstrap_streaming())
    document = app.openapi()

    answers = {
        (path, method): sorted(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert answers == {
        ("/orders", "post"): ["202", "400", "409", "413", "415", "422", "500", "503"],
        ("/orders", "get"): ["200", "422", "500", "503"],
        # 422 for parameters breaking the schema (none can: every id is a 404).
        ("/orders/{order_id}", "get"): ["200", "404", "422", "500", "503"],
        ("/orders/{order_id}/events", "get"): ["200", "204", "404", "422", "500", "503"],
        ("/screening", "get"): ["200", "500"],
        ("/", "get"): ["200", "500"],
        ("/health", "get"): ["200", "503"],
    }
    events = document["paths"]["/orders/{order_id}/events"]["get"]["responses"]["200"]
    assert list(events["content"]) == ["text/event-stream"]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    order, item = schemas["PlaceOrder"]["properties"], schemas["PlaceOrderItem"]["properties"]
    assert (order["customer_id"]["maxLength"], order["items"]["maxItems"]) == (64, 100)
    assert (item["sku"]["maxLength"], item["quantity"]["maximum"]) == (64, 10_000)


async def test_get_screening_shows_the_chain_and_its_mermaid(client: Client) -> None:
    response = await client.get("/screening")

    assert response.status_code == 200
    body = response.json()
    assert body["rules"] == ["BlockedSkuRule", "OrderTotalRule", "AcceptRule"]
    assert body["mermaid"].startswith("sequenceDiagram")
    assert (body["blocked_skus"], body["max_order_total"]) == ([], None)


async def test_get_screening_shows_the_limits_in_force(database: Database) -> None:
    settings = Settings(
        signing="off",
        database_url=str(database.engine.url),
        blocked_skus=frozenset({"tea", "kettle"}),
        max_order_total=decimal.Decimal("50.00"),
    )
    limited = build(settings, overrides=Overrides(database=database))
    async with client_for(create_app(limited.requests, limited.streams)) as client:
        response = await client.get("/screening")

    assert response.status_code == 200
    body = response.json()
    assert (body["blocked_skus"], body["max_order_total"]) == (["kettle", "tea"], "50.00")


async def test_an_order_a_rule_refuses_is_a_422_problem_naming_the_rule(
    database: Database,
) -> None:
    settings = Settings(
        signing="off", database_url=str(database.engine.url), blocked_skus=frozenset({"tea"})
    )
    refusing = build(settings, overrides=Overrides(database=database))
    app = create_app(refusing.requests, refusing.streams)
    async with client_for(app) as client:
        response = await client.post("/orders", json=ORDER)

    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM_JSON)
    assert "blocked_sku" in response.json()["detail"]
