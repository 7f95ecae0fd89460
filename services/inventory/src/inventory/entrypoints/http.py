"""The inventory's HTTP API (FastAPI).

| route                       | does                                                        |
|-----------------------------|-------------------------------------------------------------|
| `POST /stock/{sku}/restock` | operators: body `{"quantity": n}`: adds n units, returns the level |
| `GET /stock`                | every sku's level (the stock view), by sku                  |
| `GET /stock/{sku}`          | one sku's level, with its `revenue`; 404 if unknown        |
| `GET /health`               | 200 when every probe answers, else 503 (see below)          |

Every error is an RFC 9457 problem (`servicekit`): 422 for a request that
breaks the contract (`inventory.application.contract`, in the OpenAPI
document) or a value the database refuses, 404 for an unknown sku, 409 for a
restock past the most a sku holds, 413 for a body over `MAX_BODY_BYTES`, 415
for one that is not JSON, 503 when the database does not answer and 500 for
anything else; never a stack trace (the error is logged).

Restocking is an operator's: it needs `Authorization: Bearer <token>` with a
token of `OPERATOR_TOKENS` holding scope `stock.restock` (`RESTOCK_SCOPE`);
without one, or with an unknown one, 401 (`WWW-Authenticate: Bearer`), with
one lacking the scope 403. The stock views are public.

`GET /health` names each probe "ok" or "unavailable": the database, the
broker, and the command consumer (unhealthy while a trouble it cannot get
past lasts, such as a dead-letter topic that refuses records).

```
app = create_app(mediator, operators=OperatorTokens.from_env(), probes={"database": probe})
```
"""

from __future__ import annotations

import collections.abc
import typing

import fastapi
import pydantic
from fastapi.middleware.cors import CORSMiddleware

import cqrs
from inventory.application import GetStock, ListStock, Restock, StockList, StockView
from inventory.application.contract import TEXT_PATTERN, RestockQuantity
from inventory.application.errors import DataRejectedError, StorageUnavailableError, UnknownSkuError
from inventory.domain import MAX_SKU_LENGTH, StockLimitError
from servicekit import ErrorAnswer, RequestBodyLimits, install_problem_details, problem_responses
from servicekit.auth import OperatorTokens, auth_responses
from servicekit.health import Lifespan, Probe, add_health_route
from servicekit.openapi import docs_routes
from servicekit.telemetry import HTTP_TELEMETRY

__all__ = ("CLIENT_ERRORS", "MAX_BODY_BYTES", "RESTOCK_SCOPE", "RestockBody", "create_app")

#: The client's mistakes and their 4xx status (the mediators log them at INFO only).
CLIENT_ERRORS: typing.Final[typing.Mapping[type[Exception], int | ErrorAnswer]] = {
    UnknownSkuError: 404,
    StockLimitError: 409,
    DataRejectedError: 422,
}


MAX_BODY_BYTES: typing.Final = 16 * 1024
"""The largest request body the API reads (a restock's is a few dozen bytes)."""

RESTOCK_SCOPE: typing.Final = "stock.restock"
"""The scope an operator's token needs to restock."""

Sku = typing.Annotated[
    str, fastapi.Path(min_length=1, max_length=MAX_SKU_LENGTH, pattern=TEXT_PATTERN)
]


class RestockBody(pydantic.BaseModel):
    """The body of `POST /stock/{sku}/restock`.

    >>> RestockBody.model_validate({"quantity": 5}).quantity
    5
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    quantity: RestockQuantity


def create_app(
    mediator: cqrs.RequestMediator,
    *,
    probes: collections.abc.Mapping[str, Probe] | None = None,
    lifespan: Lifespan | None = None,
    operators: OperatorTokens | None = None,
    docs: bool = True,
) -> fastapi.FastAPI:
    """The API over `mediator` (binding `Restock` and `GetStock`).

    `probes` name what `GET /health` asks (each answers `True` when its
    dependency works); `lifespan` is FastAPI's, run by the server around the app;
    `operators` hold the tokens restocking takes (none: nobody restocks); `docs`
    whether `/docs`, `/redoc` and `/openapi.json` are served.
    """
    app = fastapi.FastAPI(
        title="inventory", lifespan=lifespan, telemetry=HTTP_TELEMETRY, **docs_routes(docs)
    )
    restocker = (operators or OperatorTokens({})).require(RESTOCK_SCOPE)
    install_problem_details(
        app,
        service="inventory",
        client_errors=CLIENT_ERRORS,
        unavailable=(StorageUnavailableError,),
    )
    app.add_middleware(RequestBodyLimits, max_bytes=MAX_BODY_BYTES)
    # The stock view is public and read-only: the orders page (another origin) shows it.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])

    @app.post(
        "/stock/{sku}/restock",
        responses={**auth_responses(), **problem_responses(400, 409, 413, 415, 422, 500, 503)},
        dependencies=[fastapi.Depends(restocker)],
    )
    async def restock(sku: Sku, body: RestockBody) -> StockView:
        """Add `quantity` units to the sku's stock (an operator's, scope `stock.restock`)."""
        return await mediator.send(Restock(sku=sku, quantity=body.quantity))

    @app.get("/stock", responses=problem_responses(500, 503))
    async def list_stock() -> StockList:
        """The stock view: every sku's level (the first 200, by sku)."""
        return await mediator.send(ListStock())

    @app.get("/stock/{sku}", responses=problem_responses(404, 422, 500, 503))
    async def get_stock(sku: Sku) -> StockView:
        return await mediator.send(GetStock(sku=sku))

    add_health_route(app, probes or {})

    return app
