"""`POST /orders` with an `Idempotency-Key`, on a real database: a retry gets the first answer
and places nothing; another body under the key is a 409, a key that cannot be kept a 422."""

from __future__ import annotations

import asyncio
import collections.abc
import typing
import uuid

import httpx
import pytest
import sqlalchemy as sa

from cqrs.requests import bootstrap
from orders.adapters.database import Database
from orders.entrypoints.http import create_app
from orders.main import Orders, Overrides, build
from orders.settings import Settings
from servicekit import PROBLEM_JSON

from .test_http import ORDER, Client, client_for

RowCounts = typing.Callable[[], typing.Awaitable[dict[str, int]]]


@pytest.fixture
async def client(orders: Orders) -> collections.abc.AsyncIterator[Client]:
    async with client_for(create_app(orders.requests, orders.streams)) as client:
        yield client


def post(
    client: Client, key: str | bytes, body: dict[str, typing.Any] = ORDER
) -> typing.Awaitable[httpx.Response]:
    return client.post("/orders", json=body, headers={b"Idempotency-Key": _bytes(key)})


def _bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


async def stored_keys(database: Database) -> int:
    table = database.schema.idempotency
    async with database.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table)
        return (await connection.execute(query)).scalar_one()


async def test_a_retry_under_the_same_key_answers_the_first_answer_and_places_nothing(
    client: Client, stored_rows: RowCounts
) -> None:
    key = str(uuid.uuid4())

    first = await post(client, key)
    retry = await post(client, key)

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert await stored_rows() == {"orders": 1, "sagas": 1}


async def test_the_same_key_with_another_body_is_a_409_problem(
    client: Client, stored_rows: RowCounts
) -> None:
    key = str(uuid.uuid4())
    await post(client, key)
    other = {**ORDER, "items": [{"sku": "tea", "quantity": 3, "unit_price": "12.50"}]}

    response = await post(client, key, other)

    assert (response.status_code, response.headers["content-type"]) == (409, PROBLEM_JSON)
    assert "another request body" in response.json()["detail"]
    assert await stored_rows() == {"orders": 1, "sagas": 1}


async def test_requests_without_a_key_or_with_new_keys_each_place_an_order(
    client: Client, stored_rows: RowCounts
) -> None:
    answers = [
        await client.post("/orders", json=ORDER),
        await client.post("/orders", json=ORDER),
        await post(client, "k-1"),
        await post(client, "k-2"),
    ]

    assert {response.status_code for response in answers} == {202}
    assert len({response.json()["order_id"] for response in answers}) == 4
    assert await stored_rows() == {"orders": 4, "sagas": 4}


async def test_keys_are_per_customer(client: Client, stored_rows: RowCounts) -> None:
    first = await post(client, "k-1", {**ORDER, "customer_id": "alice"})
    second = await post(client, "k-1", {**ORDER, "customer_id": "bob"})

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["order_id"] != second.json()["order_id"]
    assert await stored_rows() == {"orders": 2, "sagas": 2}


async def test_concurrent_retries_wait_for_the_first_and_get_its_answer(
    client: Client, stored_rows: RowCounts
) -> None:
    key = str(uuid.uuid4())

    answers = await asyncio.gather(*(post(client, key) for _ in range(5)))

    assert [response.status_code for response in answers] == [202] * 5
    assert len({response.json()["order_id"] for response in answers}) == 1
    assert await stored_rows() == {"orders": 1, "sagas": 1}


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, "clé".encode(), b"k 1", b"k\x7f1"],
    ids=["empty", "too-long", "non-ascii", "space", "control-character"],
)
async def test_a_key_that_cannot_be_kept_is_a_422_and_places_nothing(
    client: Client, stored_rows: RowCounts, key: bytes
) -> None:
    response = await post(client, key)

    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM_JSON)
    assert "Idempotency-Key" in response.text
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_the_longest_key_is_kept(client: Client, stored_rows: RowCounts) -> None:
    key = "k" * 255

    answers = [await post(client, key), await post(client, key)]

    assert [response.status_code for response in answers] == [202, 202]
    assert await stored_rows() == {"orders": 1, "sagas": 1}


async def test_a_refused_order_keeps_no_key(database: Database, stored_rows: RowCounts) -> None:
    settings = Settings(
        signing="off", database_url=str(database.engine.url), blocked_skus=frozenset({"tea"})
    )
    refusing = build(settings, overrides=Overrides(database=database))
    async with client_for(create_app(refusing.requests, refusing.streams)) as client:
        response = await post(client, "k-1")

    assert response.status_code == 422
    assert await stored_keys(database) == 0
    assert await stored_rows() == {"orders": 0, "sagas": 0}


async def test_a_retry_gets_its_first_answer_even_where_the_rules_now_refuse_the_order(
    orders: Orders, database: Database, stored_rows: RowCounts
) -> None:
    async with client_for(create_app(orders.requests, orders.streams)) as client:
        first = await post(client, "k-1")
    settings = Settings(
        signing="off", database_url=str(database.engine.url), blocked_skus=frozenset({"tea"})
    )
    refusing = build(settings, overrides=Overrides(database=database))
    async with client_for(create_app(refusing.requests, refusing.streams)) as client:
        retry = await post(client, "k-1")

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert await stored_rows() == {"orders": 1, "sagas": 1}


def test_the_openapi_document_declares_the_header() -> None:
    app = create_app(bootstrap.bootstrap(), bootstrap.bootstrap_streaming())
    operation = app.openapi()["paths"]["/orders"]["post"]

    parameters = [(p["name"], p["in"], p["required"]) for p in operation["parameters"]]
    assert parameters == [("Idempotency-Key", "header", False)]
    assert "Idempotency-Key" in operation["description"]
    assert {"409", "422"} <= set(operation["responses"])
