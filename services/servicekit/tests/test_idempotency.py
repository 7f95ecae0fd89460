"""The `Idempotency-Key` dependency on a small app backed by the in-memory store: a retry
gets the first answer, another body under the same key 409, a bad key 422."""

import collections.abc
import json
import typing

import fastapi
import httpx
import pydantic
import pytest

from cqrs.idempotency import MemoryIdempotencyStore
from servicekit import install_problem_details, problem_responses
from servicekit.idempotency import IDEMPOTENCY_ERRORS, IdempotencyKey, idempotency_key


class Order(pydantic.BaseModel):
    sku: str


@pytest.fixture
def placed() -> list[str]:
    return []


@pytest.fixture
async def client(placed: list[str]) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    store = MemoryIdempotencyStore()
    app = fastapi.FastAPI()
    install_problem_details(app, service="shop", client_errors=IDEMPOTENCY_ERRORS)

    @app.post("/orders", responses=problem_responses(409, 422))
    async def place(
        order: Order,
        key: typing.Annotated[IdempotencyKey | None, fastapi.Depends(idempotency_key)],
    ) -> dict[str, str]:
        if key is None:
            placed.append(order.sku)
            return {"order": str(len(placed))}
        request = key.scoped("orders:c-7")
        async with store.session() as session, session.begin():
            stored = await store.claim(session, request)
            if stored is not None:
                return json.loads(stored)
            placed.append(order.sku)
            answer = {"order": str(len(placed))}
            await store.save(session, request, json.dumps(answer))
            return answer

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        yield client


def post(client: httpx.AsyncClient, sku: str, key: str | None) -> typing.Awaitable[httpx.Response]:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/orders", json={"sku": sku}, headers=headers)


async def test_a_retry_with_the_same_key_gets_the_first_answer(
    client: httpx.AsyncClient, placed: list[str]
) -> None:
    first = await post(client, "tea", "k-1")
    retry = await post(client, "tea", "k-1")

    assert first.json() == retry.json() == {"order": "1"}
    assert placed == ["tea"]


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, placed: list[str]
) -> None:
    await post(client, "tea", "k-1")

    response = await post(client, "coffee", "k-1")

    assert response.status_code == 409
    assert "another request body" in response.json()["detail"]
    assert placed == ["tea"]


async def test_without_a_key_each_request_is_new(
    client: httpx.AsyncClient, placed: list[str]
) -> None:
    await post(client, "tea", None)
    await post(client, "tea", None)

    assert placed == ["tea", "tea"]


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, "clé".encode(), b"k 1", b"k\x7f"],
    ids=["empty", "long", "non-ascii", "space", "control"],
)
async def test_an_unusable_key_is_422(
    client: httpx.AsyncClient, placed: list[str], key: bytes
) -> None:
    response = await client.post("/orders", json={"sku": "tea"}, headers={b"Idempotency-Key": key})

    assert response.status_code == 422
    assert placed == []


async def test_the_header_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    parameters = document["paths"]["/orders"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("Idempotency-Key", "header", False)
    ]
    schema = parameters[0]["schema"]["anyOf"][0]
    assert (schema["minLength"], schema["maxLength"], schema["pattern"]) == (1, 255, "^[!-~]+$")
