"""The HTTP API on the real wiring (`build(settings).app()`), over httpx's ASGI transport.

The transport does not run the app's lifespan: the tables come from the
`schema` fixture, and the health tests connect the Kafka consumer themselves.
"""

from __future__ import annotations

import collections.abc
import contextlib
import time

import httpx
import pytest

from cqrs_kafka.local import LocalKafkaBroker, broker_answers, free_port
from cqrs_sqla.schema import Schema
from inventory.domain import MAX_SKU_LENGTH
from inventory.main import Inventory, build
from inventory.settings import Settings


def inventory_on(database_url: str, bootstrap_servers: str | None = None) -> Inventory:
    # Nothing listens on a fresh free port: a broker that is not there.
    bootstrap_servers = bootstrap_servers or f"127.0.0.1:{free_port()}"
    return build(Settings(database_url=database_url, kafka_bootstrap_servers=bootstrap_servers))


@contextlib.asynccontextmanager
async def client_of(
    inventory: Inventory, *, raise_app_exceptions: bool = True
) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(inventory.app(), raise_app_exceptions=raise_app_exceptions)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
            yield client
    finally:
        await inventory.engine.dispose()


@pytest.fixture
async def client(
    database_url: str, schema: Schema
) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    async with client_of(inventory_on(database_url)) as client:
        yield client


async def test_restock_adds_units_and_get_shows_the_level(client: httpx.AsyncClient) -> None:
    first = await client.post("/stock/tea/restock", json={"quantity": 4})
    assert (first.status_code, first.json()) == (200, {"sku": "tea", "available": 4, "reserved": 0})
    await client.post("/stock/tea/restock", json={"quantity": 6})
    level = await client.get("/stock/tea")
    assert level.status_code == 200
    assert level.json() == {"sku": "tea", "available": 10, "reserved": 0}


async def test_an_unknown_sku_is_a_404_saying_to_restock(client: httpx.AsyncClient) -> None:
    response = await client.get("/stock/kettle")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no stock is known for sku 'kettle'; restock it first "
        "(POST /stock/kettle/restock)"
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 2**31}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 5, "colour": "green"}, "colour"),
    ],
)
async def test_a_restock_without_one_positive_whole_quantity_is_a_422(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/stock/tea/restock", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert (await client.get("/stock/tea")).status_code == 404


async def test_a_sku_longer_than_the_inventory_keeps_is_a_422(client: httpx.AsyncClient) -> None:
    sku = "x" * (MAX_SKU_LENGTH + 1)
    for response in (
        await client.post(f"/stock/{sku}/restock", json={"quantity": 1}),
        await client.get(f"/stock/{sku}"),
    ):
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "sku"]


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
    assert response.json() == {"detail": "the inventory database is unavailable; try again shortly"}


async def test_an_unexpected_error_is_a_500_without_internals(postgresql_url: str) -> None:
    # A PostgreSQL database without the inventory's tables: the query fails with an
    # error that is not about reaching the database.
    inventory = inventory_on(postgresql_url)
    async with client_of(inventory, raise_app_exceptions=False) as client:
        response = await client.get("/stock/tea")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "the inventory failed to handle this request; it logged why"
    }


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
        {"status": "ok", "database": "ok", "broker": "ok"},
    )
    assert (paused.status_code, paused.json()) == (
        503,
        {"status": "unavailable", "database": "ok", "broker": "unavailable"},
    )
    assert back.status_code == 200


async def test_health_is_503_when_no_broker_was_ever_reached(sqlite_url: str) -> None:
    async with client_of(inventory_on(sqlite_url)) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()["broker"]) == (503, "unavailable")
