"""The HTTP API on the real wiring (`build(settings).app()`), over httpx's ASGI transport.

The transport does not run the app's lifespan: the tables come from the
`schema` fixture, and the health tests connect the Kafka consumer themselves.
The `client` restocks as an operator holding every scope (`OPERATOR`); the
operator tests send tokens of their own.
"""

from __future__ import annotations

import collections.abc
import contextlib
import logging
import time
import typing

import httpx
import pytest

from cqrs_kafka.local import LocalKafkaBroker, broker_answers, free_port
from cqrs_sqla.schema import Schema
from inventory.application.contract import TEXT_PATTERN
from inventory.domain import MAX_SKU_LENGTH, MAX_STOCK_LEVEL
from inventory.entrypoints.http import MAX_BODY_BYTES
from inventory.main import Inventory, build
from inventory.settings import Settings
from servicekit import PROBLEM_JSON, VALIDATION_ERROR
from servicekit.auth import new_token

#: Tokens of three operators: every scope, the admin console's only, the restock's only.
OPERATOR, ADMIN, RESTOCKER = new_token(), new_token(), new_token()
OPERATOR_TOKENS = (
    f"ops:{OPERATOR}:stock.restock+admin,ann:{ADMIN}:admin,rex:{RESTOCKER}:stock.restock"
)


#: Where FastAPI serves the API's documents (`INVENTORY_DOCS_ENABLED`).
DOCUMENTS = ("/docs", "/redoc", "/openapi.json")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def inventory_on(
    database_url: str, bootstrap_servers: str | None = None, **settings: typing.Any
) -> Inventory:
    # Nothing listens on a fresh free port: a broker that is not there.
    bootstrap_servers = bootstrap_servers or f"127.0.0.1:{free_port()}"
    given: dict[str, typing.Any] = {"operator_tokens": OPERATOR_TOKENS, **settings}
    return build(
        Settings(
            signing="off",
            database_url=database_url,
            kafka_bootstrap_servers=bootstrap_servers,
            **given,
        )
    )


@contextlib.asynccontextmanager
async def client_of(
    inventory: Inventory, token: str | None = OPERATOR
) -> collections.abc.AsyncGenerator[httpx.AsyncClient, None]:
    transport = httpx.ASGITransport(inventory.app())
    headers = {} if token is None else bearer(token)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://inventory", headers=headers
        ) as client:
            yield client
    finally:
        await inventory.engine.dispose()


def validation_locations(response: httpx.Response) -> list[list[str | int]]:
    """Where the 422 validation problem `response` says the request went wrong."""
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == VALIDATION_ERROR
    return [error["loc"] for error in problem["errors"]]


@pytest.fixture
async def client(
    database_url: str, schema: Schema
) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    async with client_of(inventory_on(database_url)) as client:
        yield client


async def test_restock_adds_units_and_get_shows_the_level(client: httpx.AsyncClient) -> None:
    first = await client.post("/stock/tea/restock", json={"quantity": 4})
    assert (first.status_code, first.json()) == (
        200,
        {"sku": "tea", "available": 4, "reserved": 0, "sold": 0, "revenue": "0.00"},
    )
    await client.post("/stock/tea/restock", json={"quantity": 6.0})  # JSON's integer 6
    level = await client.get("/stock/tea")
    assert level.status_code == 200
    assert level.json() == {
        "sku": "tea",
        "available": 10,
        "reserved": 0,
        "sold": 0,
        "revenue": "0.00",
    }


async def test_the_stock_view_lists_every_sku_by_name(client: httpx.AsyncClient) -> None:
    for sku, quantity in (("tea", 5), ("cup", 2)):
        assert (await client.post(f"/stock/{sku}/restock", json={"quantity": quantity})).is_success

    response = await client.get("/stock")

    assert response.status_code == 200
    assert response.json() == {
        "stock": [
            {"sku": "cup", "available": 2, "reserved": 0, "sold": 0, "revenue": "0.00"},
            {"sku": "tea", "available": 5, "reserved": 0, "sold": 0, "revenue": "0.00"},
        ],
        "stale": False,
        "read_at": None,
    }


async def test_an_unknown_sku_is_a_404_saying_to_restock(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "inventory.mediator")
    response = await client.get("/stock/kettle")
    # A client's mistake: one INFO line of the mediator's logging, no traceback.
    (refused,) = [r for r in caplog.records if r.name == "inventory.mediator"]
    assert refused.levelno == logging.INFO
    assert not refused.exc_info
    assert refused.getMessage().startswith("GetStock refused in ")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no stock is known for sku 'kettle'; restock it first "
        "(POST /stock/kettle/restock)",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": MAX_STOCK_LEVEL + 1}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 5, "colour": "green"}, "colour"),
    ],
)
async def test_a_restock_without_one_whole_quantity_in_range_is_a_422(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/stock/tea/restock", json=body)
    assert validation_locations(response) == [["body", field]]
    assert (await client.get("/stock/tea")).status_code == 404


@pytest.mark.parametrize(
    "sku",
    [
        pytest.param("x" * (MAX_SKU_LENGTH + 1), id="too long"),
        pytest.param("a%00b", id="NUL"),
        pytest.param("line%0Abreak", id="newline"),
        pytest.param("%20%20", id="blank"),
    ],
)
async def test_a_sku_that_is_not_short_text_is_a_422(client: httpx.AsyncClient, sku: str) -> None:
    for response in (
        await client.post(f"/stock/{sku}/restock", json={"quantity": 1}),
        await client.get(f"/stock/{sku}"),
    ):
        assert validation_locations(response) == [["path", "sku"]]


async def test_restocking_past_the_maximum_level_is_a_409_and_the_sku_stays_usable(
    client: httpx.AsyncClient,
) -> None:
    assert (
        await client.post("/stock/tea/restock", json={"quantity": MAX_STOCK_LEVEL - 1})
    ).is_success

    refused = await client.post("/stock/tea/restock", json={"quantity": 2})
    level = await client.get("/stock/tea")
    last_unit = await client.post("/stock/tea/restock", json={"quantity": 1})

    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert "room for 1 more" in refused.json()["detail"]
    assert level.json() == {
        "sku": "tea",
        "available": MAX_STOCK_LEVEL - 1,
        "reserved": 0,
        "sold": 0,
        "revenue": "0.00",
    }
    assert last_unit.json() == {
        "sku": "tea",
        "available": MAX_STOCK_LEVEL,
        "reserved": 0,
        "sold": 0,
        "revenue": "0.00",
    }


async def test_a_body_over_the_limit_is_a_413_and_one_not_json_a_415(
    client: httpx.AsyncClient,
) -> None:
    padding = " " * MAX_BODY_BYTES
    too_large = await client.post(
        "/stock/tea/restock",
        content=f'{{"quantity": 1}}{padding}',
        headers={"content-type": "application/json"},
    )
    not_json = await client.post(
        "/stock/tea/restock", content="quantity=1", headers={"content-type": "text/plain"}
    )

    assert (too_large.status_code, too_large.headers["content-type"]) == (413, PROBLEM_JSON)
    assert (not_json.status_code, not_json.headers["content-type"]) == (415, PROBLEM_JSON)
    assert (await client.get("/stock/tea")).status_code == 404


@pytest.mark.parametrize(
    ("token", "status", "challenge"),
    [
        (None, 401, "Bearer"),
        ("not-a-token-anyone-holds-0123456789", 401, 'Bearer error="invalid_token"'),
        (ADMIN, 403, 'Bearer error="insufficient_scope" scope="stock.restock"'),
    ],
)
async def test_a_restock_without_a_token_holding_its_scope_is_refused_and_adds_nothing(
    database_url: str, schema: Schema, token: str | None, status: int, challenge: str
) -> None:
    async with client_of(inventory_on(database_url), token) as client:
        refused = await client.post("/stock/tea/restock", json={"quantity": 5})
        unknown = await client.get("/stock/tea")

    assert (refused.status_code, refused.headers["content-type"]) == (status, PROBLEM_JSON)
    assert refused.headers["www-authenticate"] == challenge
    assert unknown.status_code == 404


async def test_a_restock_with_a_token_holding_its_scope_is_done(
    database_url: str, schema: Schema
) -> None:
    async with client_of(inventory_on(database_url), RESTOCKER) as client:
        restocked = await client.post("/stock/tea/restock", json={"quantity": 5})

    assert restocked.status_code == 200, restocked.text
    assert restocked.json()["available"] == 5


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("not-a-token-anyone-holds-0123456789", 401), (RESTOCKER, 403), (ADMIN, 200)],
)
async def test_the_admin_console_answers_only_a_token_with_the_admin_scope(
    database_url: str, schema: Schema, token: str | None, status: int
) -> None:
    async with client_of(inventory_on(database_url), token) as client:
        response = await client.get("/admin/outbox/dead")

    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_without_operator_tokens_nobody_restocks_and_there_is_no_console(
    database_url: str, schema: Schema
) -> None:
    async with client_of(inventory_on(database_url, operator_tokens=None), OPERATOR) as client:
        restock = await client.post("/stock/tea/restock", json={"quantity": 5})
        console = await client.get("/admin/outbox/dead")

    assert (restock.status_code, console.status_code) == (401, 404)


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_api_documents_are_served_unless_turned_off(enabled: bool) -> None:
    inventory = inventory_on("sqlite+aiosqlite://", docs_enabled=enabled)
    async with client_of(inventory) as client:
        statuses = [(await client.get(path)).status_code for path in DOCUMENTS]

    assert statuses == [200 if enabled else 404] * len(DOCUMENTS)


def test_the_openapi_document_declares_every_answer_and_the_bounds() -> None:
    document = inventory_on("sqlite+aiosqlite://").app().openapi()

    answers = {
        (path, method): sorted(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    admin = {route: codes for route, codes in answers.items() if route[0].startswith("/admin/")}
    assert ("/admin/outbox/dead", "get") in admin
    # Every admin call but the console page needs a token with scope admin.
    assert all(
        {"401", "403"} <= set(codes) for route, codes in admin.items() if route[0] != "/admin/"
    )
    restock = document["paths"]["/stock/{sku}/restock"]["post"]
    assert restock["security"] == [{"HTTPBearer": []}]
    assert {route: codes for route, codes in answers.items() if route not in admin} == {
        ("/stock/{sku}/restock", "post"): [
            *("200", "400", "401", "403", "409", "413", "415", "422", "500", "503")
        ],
        ("/stock/{sku}", "get"): ["200", "404", "422", "500", "503"],
        ("/stock", "get"): ["200", "500", "503"],
        ("/health", "get"): ["200", "503"],
        ("/timings", "get"): ["200", "500"],
    }
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["RestockBody"]["properties"]["quantity"]["maximum"] == MAX_STOCK_LEVEL
    [sku] = document["paths"]["/stock/{sku}"]["get"]["parameters"]
    assert (sku["schema"]["maxLength"], sku["schema"]["pattern"]) == (MAX_SKU_LENGTH, TEXT_PATTERN)


def database_down() -> str:
    """The URL of a PostgreSQL server that is down (nothing listens on the port)."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/inventory"


async def test_health_is_503_naming_the_database_when_it_does_not_answer() -> None:
    async with client_of(inventory_on(database_down())) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


async def test_a_database_that_does_not_answer_is_a_503_without_internals() -> None:
    async with client_of(inventory_on(database_down())) as client:
        response = await client.get("/stock/tea")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "127.0.0.1" not in response.text
    assert "try again" in response.json()["detail"]


async def test_an_unexpected_error_is_a_500_without_internals(
    postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A PostgreSQL database without the inventory's tables: the query fails with an
    # error that is not about reaching the database. The app answers and raises
    # nothing on (the transport would re-raise it), so the connection stays usable.
    caplog.set_level(logging.INFO, "inventory.mediator")
    async with client_of(inventory_on(postgresql_url)) as client:
        response = await client.get("/stock/tea")
    # The mediator names the message at ERROR; the traceback is the HTTP layer's to log.
    (failed,) = [r for r in caplog.records if r.name == "inventory.mediator"]
    assert failed.levelno == logging.ERROR
    assert failed.getMessage().startswith("GetStock failed in ")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == (
        "the inventory service failed to handle the request; it logged why"
    )
    assert "stock" not in response.json()["detail"]


def wait_until_frozen(kafka: LocalKafkaBroker, deadline: float = 10.0) -> None:
    """Return once the paused broker no longer answers (SIGSTOP takes a moment)."""
    give_up = time.monotonic() + deadline
    while broker_answers(kafka.host, kafka.port, timeout=0.2):
        assert time.monotonic() < give_up, "the paused broker still answers"


async def test_health_follows_the_broker(sqlite_url: str) -> None:
    with LocalKafkaBroker() as kafka:
        inventory = inventory_on(sqlite_url, kafka.bootstrap_servers)
        await inventory.consumer.connect()
        try:
            async with client_of(inventory) as client:
                healthy = await client.get("/health")
                kafka.pause()
                try:
                    wait_until_frozen(kafka)
                    paused = await client.get("/health")
                finally:
                    kafka.resume()
                back = await client.get("/health")
        finally:
            await inventory.consumer.stop()
    assert (healthy.status_code, healthy.json()) == (
        200,
        {"status": "ok", "database": "ok", "broker": "ok", "consumer": "ok"},
    )
    assert (paused.status_code, paused.json()) == (
        503,
        {"status": "unavailable", "database": "ok", "broker": "unavailable", "consumer": "ok"},
    )
    assert back.status_code == 200


async def test_health_is_503_when_no_broker_was_ever_reached(sqlite_url: str) -> None:
    async with client_of(inventory_on(sqlite_url)) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()["broker"]) == (503, "unavailable")


async def test_health_is_503_naming_the_consumer_when_it_cannot_get_past_a_record(
    sqlite_url: str,
) -> None:
    inventory = inventory_on(sqlite_url)
    inventory.consumer_health.unhealthy_after = 0.0
    inventory.consumer_health.trouble("dead-letter inventory.commands[0]@3", "the topic refuses")
    async with client_of(inventory) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()["consumer"]) == (503, "unavailable")
