"""`servicekit.auth` on a small app: operator scopes, customers open and by JWT, and
what the OpenAPI document says.

No `from __future__ import annotations`: the routes' dependencies are local to
`create_app`, and FastAPI could not resolve them from strings.
"""

import collections.abc
import datetime
import typing

import fastapi
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cqrs.exceptions import ConfigurationError
from servicekit import install_problem_details
from servicekit.auth import (
    Customer,
    CustomerAuth,
    Operator,
    OperatorTokens,
    auth_responses,
    new_token,
)

ALICE, BOB = new_token(), new_token()
TOKENS = OperatorTokens.parse(f"alice:{ALICE}:stock.restock+admin,bob:{BOB}:admin")
ISSUER, AUDIENCE = "https://id.example", "orders"


def create_app(customers: CustomerAuth) -> fastapi.FastAPI:
    app = fastapi.FastAPI(title="shop")
    install_problem_details(app, service="shop")

    @app.post("/stock/{sku}/restock", responses=auth_responses())
    async def restock(
        sku: str,
        operator: typing.Annotated[Operator, fastapi.Depends(TOKENS.require("stock.restock"))],
    ) -> dict[str, str]:
        return {"sku": sku, "by": operator.name}

    @app.get("/admin/whoami", responses=auth_responses())
    async def whoami(
        name: typing.Annotated[str, fastapi.Depends(TOKENS.actor("admin"))],
    ) -> dict[str, str]:
        return {"actor": name}

    @app.get("/orders/{owner}", responses=auth_responses())
    async def read(
        owner: str, customer: typing.Annotated[Customer, fastapi.Depends(customers.customer)]
    ) -> dict[str, str]:
        if not customer.may_see(owner):
            raise fastapi.HTTPException(404, "no such order")
        return {"owner": owner, "acting": customer.chosen("claimed-in-body")}

    return app


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwt_auth(rsa_key: rsa.RSAPrivateKey) -> CustomerAuth:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CustomerAuth.from_env(
        {
            "CUSTOMER_AUTH": "jwt",
            "CUSTOMER_JWT_KEY": public.decode(),
            "CUSTOMER_JWT_ISSUER": ISSUER,
            "CUSTOMER_JWT_AUDIENCE": AUDIENCE,
        }
    )


def token_for(key: rsa.RSAPrivateKey, subject: str, **changes: typing.Any) -> str:
    claims: dict[str, typing.Any] = {
        "sub": subject,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5),
    }
    return jwt.encode({**claims, **changes}, key, algorithm="RS256")


@pytest.fixture
async def client(jwt_auth: CustomerAuth) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(jwt_auth), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_operator_with_the_scope_is_admitted(client: httpx.AsyncClient) -> None:
    response = await client.post("/stock/tea/restock", headers=bearer(ALICE))

    assert response.status_code == 200
    assert response.json() == {"sku": "tea", "by": "alice"}


@pytest.mark.parametrize(
    ("headers", "status", "challenge"),
    [
        ({}, 401, "Bearer"),
        (bearer("x" * 43), 401, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Basic {ALICE}"}, 401, "Bearer"),
        (bearer(BOB), 403, 'Bearer error="insufficient_scope" scope="stock.restock"'),
    ],
    ids=["no-token", "unknown-token", "not-bearer", "without-the-scope"],
)
async def test_operator_routes_refuse_without_the_right_token(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, challenge: str
) -> None:
    response = await client.post("/stock/tea/restock", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == challenge


async def test_the_actor_dependency_names_the_operator_for_cqrs_admin(
    client: httpx.AsyncClient,
) -> None:
    bob = await client.get("/admin/whoami", headers=bearer(BOB))
    nobody = await client.get("/admin/whoami")

    assert bob.json() == {"actor": "bob"}
    assert nobody.status_code == 401


async def test_a_jwt_customer_is_the_tokens_subject_and_sees_only_their_own(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    own = await client.get("/orders/c-7", headers=bearer(token_for(rsa_key, "c-7")))
    other = await client.get("/orders/c-8", headers=bearer(token_for(rsa_key, "c-7")))

    assert own.json() == {"owner": "c-7", "acting": "c-7"}
    assert other.status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example"},
        {"aud": "inventory"},
        {"exp": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)},
    ],
    ids=["issuer", "audience", "expired"],
)
async def test_a_jwt_of_another_issuer_audience_or_expired_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, changes: dict[str, typing.Any]
) -> None:
    response = await client.get("/orders/c-7", headers=bearer(token_for(rsa_key, "c-7", **changes)))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_jwt_signed_by_another_key_or_missing_is_refused(
    client: httpx.AsyncClient,
) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    forged = await client.get("/orders/c-7", headers=bearer(token_for(forger, "c-7")))
    missing = await client.get("/orders/c-7")

    assert (forged.status_code, missing.status_code) == (401, 401)


async def test_open_mode_lets_anyone_act_for_the_customer_they_name() -> None:
    transport = httpx.ASGITransport(app=create_app(CustomerAuth()))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        response = await client.get("/orders/c-8")

    assert response.json() == {"owner": "c-8", "acting": "claimed-in-body"}


async def test_the_openapi_document_declares_the_scheme_and_the_answers(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    restock = document["paths"]["/stock/{sku}/restock"]["post"]
    assert {"401", "403"} <= restock["responses"].keys()
    assert restock["security"] == [{"HTTPBearer": []}]


@pytest.mark.parametrize(
    "spec",
    ["alice", f"alice:{ALICE}", "alice:short:admin", f":{ALICE}:admin"],
    ids=["name-only", "no-scope", "short-token", "no-name"],
)
def test_operator_tokens_that_cannot_work_are_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="OPERATOR_TOKENS"):
        OperatorTokens.parse(spec)


def test_jwt_mode_without_its_settings_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="CUSTOMER_JWT_KEY"):
        CustomerAuth.from_env({"CUSTOMER_AUTH": "jwt"})
