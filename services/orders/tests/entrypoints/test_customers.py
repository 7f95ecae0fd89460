"""Who the customer is (`ORDERS_CUSTOMER_AUTH=jwt`), the `POST /orders` rate limit
(`ORDERS_RATE_LIMIT`) and the documents' switch (`ORDERS_DOCS_ENABLED`), each set
through the settings on the wired service (`build(settings).app()`), on a real database.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import datetime
import typing
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from orders.adapters.database import Database
from orders.adapters.messages import INVENTORY_REPLIES, StockReserved, StockReservedPayload
from orders.application.inventory import STOCK_RESERVED
from orders.domain.limits import MAX_CUSTOMER_ID_LENGTH
from orders.main import Orders, Overrides, build
from orders.settings import Settings
from servicekit import PROBLEM_JSON

ISSUER, AUDIENCE = "https://id.example", "orders"
SECRET = "a-shared-secret-of-32-bytes-or-more-for-hs256"
TEA = {"sku": "tea", "quantity": 1, "unit_price": "2.00"}
STREAM_TIMEOUT = 10.0
Client = httpx.AsyncClient
Claims = dict[str, typing.Any]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(subject: str, **changes: object) -> Claims:
    now = datetime.datetime.now(datetime.timezone.utc)
    valid: Claims = {
        "sub": subject,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + datetime.timedelta(minutes=5),
    }
    return {**valid, **changes}


def hs256(subject: str, **changes: object) -> str:
    return jwt.encode(claims(subject, **changes), SECRET, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jwt_settings(**changes: typing.Any) -> dict[str, typing.Any]:
    given: dict[str, typing.Any] = {
        "customer_auth": "jwt",
        "customer_jwt_key": SECRET,
        "customer_jwt_algorithm": "HS256",
        "customer_jwt_issuer": ISSUER,
        "customer_jwt_audience": AUDIENCE,
    }
    return {**given, **changes}


def wired(database: Database, **settings: typing.Any) -> Orders:
    return build(
        Settings(signing="off", database_url=str(database.engine.url), **settings),
        overrides=Overrides(database=database),
    )


@contextlib.asynccontextmanager
async def client_of(orders: Orders) -> collections.abc.AsyncGenerator[Client, None]:
    transport = httpx.ASGITransport(app=orders.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client


async def place(client: Client, orders: Orders, token: str, customer_id: str) -> str:
    order = {"customer_id": customer_id, "items": [TEA]}
    response = await client.post("/orders", json=order, headers=bearer(token))
    assert response.status_code == 202, response.text
    return typing.cast(str, response.json()["order_id"])


async def reserve(orders: Orders, order_id: str) -> None:
    payload = StockReservedPayload(order_id=order_id)
    await orders.events.send(
        StockReserved(event_name=STOCK_RESERVED, topic=INVENTORY_REPLIES, payload=payload)
    )


# --- ORDERS_CUSTOMER_AUTH=jwt ------------------------------------------------------------


async def test_in_jwt_mode_every_customer_route_needs_a_token(database: Database) -> None:
    orders = wired(database, **jwt_settings())
    async with client_of(orders) as client:
        answers = [
            await client.post("/orders", json={"customer_id": "ann", "items": [TEA]}),
            await client.get("/orders", params={"customer_id": "ann"}),
            await client.get(f"/orders/{uuid.uuid4()}"),
            await client.get(f"/orders/{uuid.uuid4()}/events"),
        ]
        page = await client.get("/")

    for answer in answers:
        assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM_JSON)
        assert answer.headers["www-authenticate"] == "Bearer"
    assert page.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(claims("ann"), "another-secret-of-32-bytes-or-more-!!", algorithm="HS256"),
        hs256("ann", exp=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)),
        hs256("ann", aud="billing"),
        hs256("ann", iss="https://elsewhere.example"),
        jwt.encode({k: v for k, v in claims("ann").items() if k != "sub"}, SECRET),
        "not-a-jwt",
    ],
    ids=["bad-signature", "expired", "wrong-audience", "wrong-issuer", "no-subject", "garbage"],
)
async def test_a_token_that_does_not_verify_is_401_and_places_nothing(
    database: Database, token: str
) -> None:
    orders = wired(database, **jwt_settings())
    async with client_of(orders) as client:
        order = {"customer_id": "ann", "items": [TEA]}
        refused = await client.post("/orders", json=order, headers=bearer(token))
        listed = await client.get(
            "/orders", params={"customer_id": "x"}, headers=bearer(hs256("ann"))
        )

    assert (refused.status_code, refused.headers["content-type"]) == (401, PROBLEM_JSON)
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert listed.json()["orders"] == []


async def test_a_subject_too_long_for_a_customer_id_is_403(database: Database) -> None:
    token = hs256("c" * (MAX_CUSTOMER_ID_LENGTH + 1))
    orders = wired(database, **jwt_settings())
    async with client_of(orders) as client:
        order = {"customer_id": "ann", "items": [TEA]}
        placed = await client.post("/orders", json=order, headers=bearer(token))
        listed = await client.get("/orders", params={"customer_id": "ann"}, headers=bearer(token))

    for refused in (placed, listed):
        assert (refused.status_code, refused.headers["content-type"]) == (403, PROBLEM_JSON)


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
async def test_a_customer_places_reads_and_lists_only_their_own_orders(
    database: Database, rsa_key: rsa.RSAPrivateKey, algorithm: str
) -> None:
    if algorithm == "RS256":
        public = rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        settings = jwt_settings(customer_jwt_key=public.decode(), customer_jwt_algorithm="RS256")
        ann, bob = (jwt.encode(claims(who), rsa_key, algorithm="RS256") for who in ("ann", "bob"))
    else:
        settings = jwt_settings()
        ann, bob = hs256("ann"), hs256("bob")
    orders = wired(database, **settings)
    async with client_of(orders) as client:
        # The body names bob: the order is still ann's, the token's subject.
        anns = await place(client, orders, ann, customer_id="bob")
        bobs = await place(client, orders, bob, customer_id="bob")
        await reserve(orders, anns)
        own = await client.get(f"/orders/{anns}", headers=bearer(ann))
        others = await client.get(f"/orders/{bobs}", headers=bearer(ann))
        nobodys_id = str(uuid.uuid4())
        nobodys = await client.get(f"/orders/{nobodys_id}", headers=bearer(ann))
        # Bounded: the stream of bob's undecided order, were it served, would not end.
        own_events, others_events = [
            await asyncio.wait_for(
                client.get(f"/orders/{order_id}/events", headers=bearer(ann)), STREAM_TIMEOUT
            )
            for order_id in (anns, bobs)
        ]
        # Asking for bob's list with ann's token lists ann's.
        listed = await client.get("/orders", params={"customer_id": "bob"}, headers=bearer(ann))

    assert (own.status_code, own.json()["customer_id"]) == (200, "ann")
    assert (others.status_code, others.headers["content-type"]) == (404, PROBLEM_JSON)
    # Another's order reads as one that does not exist: nothing tells it apart.
    assert others.json() == {
        **nobodys.json(),
        "detail": nobodys.json()["detail"].replace(nobodys_id, bobs),
    }
    assert own_events.status_code == 200
    assert own_events.headers["content-type"].startswith("text/event-stream")
    assert others_events.status_code == 404
    assert listed.status_code == 200
    assert listed.json()["customer_id"] == "ann"
    assert [summary["order_id"] for summary in listed.json()["orders"]] == [anns]


async def test_in_open_mode_the_request_names_the_customer(database: Database) -> None:
    orders = wired(database)
    async with client_of(orders) as client:
        placed = await client.post("/orders", json={"customer_id": "bob", "items": [TEA]})
        read = await client.get(f"/orders/{placed.json()['order_id']}")

    assert (placed.status_code, read.json()["customer_id"]) == (202, "bob")


def test_the_openapi_document_declares_401_on_customer_routes_in_jwt_mode() -> None:
    document = (
        build(Settings(signing="off", database_url="sqlite+aiosqlite://", **jwt_settings()))
        .app()
        .openapi()
    )

    paths = document["paths"]
    for path, method in [
        ("/orders", "post"),
        ("/orders", "get"),
        ("/orders/{order_id}", "get"),
        ("/orders/{order_id}/events", "get"),
    ]:
        operation = paths[path][method]
        assert {"401", "403"} <= set(operation["responses"]), (path, method)
        assert operation["security"] == [{"HTTPBearer": []}]
    assert "429" not in paths["/orders"]["post"]["responses"]  # no rate limit set
    assert "security" not in paths["/"]["get"]


# --- ORDERS_RATE_LIMIT --------------------------------------------------------------------


async def test_past_the_rate_limit_an_address_gets_429_with_retry_after(
    database: Database,
) -> None:
    orders = wired(database, rate_limit="2/minute")
    order = {"customer_id": "ann", "items": [TEA]}
    async with client_of(orders) as client:
        accepted = [await client.post("/orders", json=order) for _ in range(2)]
        refused = await client.post("/orders", json=order)
        listed = await client.get("/orders", params={"customer_id": "ann"})
        document = (await client.get("/openapi.json")).json()

    assert [answer.status_code for answer in accepted] == [202, 202]
    assert (refused.status_code, refused.headers["content-type"]) == (429, PROBLEM_JSON)
    # 2 a minute: the next one 30 s after the first, less the time the two orders took
    # (whole seconds, rounded up: 29 when a loaded machine took over a second for them).
    assert 0 < int(refused.headers["retry-after"]) <= 30
    assert refused.json()["status"] == 429
    assert len(listed.json()["orders"]) == 2  # the refused one was not placed
    assert "429" in document["paths"]["/orders"]["post"]["responses"]


async def test_in_jwt_mode_the_rate_limit_is_each_customers(database: Database) -> None:
    orders = wired(database, rate_limit="1/hour", **jwt_settings())
    async with client_of(orders) as client:
        ann_first = await place(client, orders, hs256("ann"), "ann")
        order = {"customer_id": "ann", "items": [TEA]}
        ann_again = await client.post("/orders", json=order, headers=bearer(hs256("ann")))
        bob_first = await client.post("/orders", json=order, headers=bearer(hs256("bob")))

    assert uuid.UUID(ann_first)
    assert (ann_again.status_code, ann_again.headers["retry-after"]) == (429, "3600")
    assert bob_first.status_code == 202


# --- ORDERS_DOCS_ENABLED ------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_api_documents_are_served_unless_turned_off(
    database: Database, enabled: bool
) -> None:
    async with client_of(wired(database, docs_enabled=enabled)) as client:
        statuses = [
            (await client.get(path)).status_code for path in ("/docs", "/redoc", "/openapi.json")
        ]
        page = await client.get("/")

    assert statuses == [200 if enabled else 404] * 3
    assert page.status_code == 200
