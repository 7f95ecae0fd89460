"""The inventory's HTTP API (FastAPI).

| route                       | does                                                      |
|-----------------------------|-----------------------------------------------------------|
| `POST /stock/{sku}/restock` | body `{"quantity": n}` (n > 0): adds n units, returns the level |
| `GET /stock/{sku}`          | the level `{"sku", "available", "reserved"}`; 404 if unknown |
| `GET /health`               | 200 when the database and the broker answer, else 503     |

Bad input is a 422 (FastAPI's validation body). No request gets a stack
trace: a database that does not answer is a 503 and anything unexpected a
500, each with a JSON `{"detail": ...}`; the error is logged.

```
app = create_app(mediator, {"database": database_probe, "broker": broker_probe})
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import logging
import typing

import fastapi
import pydantic
from fastapi.responses import JSONResponse

import cqrs
from inventory.application import GetStock, Restock, StockView
from inventory.application.errors import StorageUnavailableError, UnknownSkuError
from inventory.domain import MAX_SKU_LENGTH

__all__ = ("HealthCheck", "Lifespan", "RestockBody", "create_app")

logger = logging.getLogger("inventory.http")

HealthCheck = collections.abc.Callable[[], collections.abc.Awaitable[bool]]
"""Answers whether one dependency (the database, the broker) works."""

Sku = typing.Annotated[str, fastapi.Path(min_length=1, max_length=MAX_SKU_LENGTH)]


class RestockBody(pydantic.BaseModel):
    """The body of `POST /stock/{sku}/restock`.

    >>> RestockBody.model_validate({"quantity": 5}).quantity
    5
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    # Strict: "5", 5.0 and true are mistakes, not five units.
    quantity: int = pydantic.Field(gt=0, lt=2**31, strict=True)


Lifespan = collections.abc.Callable[[fastapi.FastAPI], contextlib.AbstractAsyncContextManager[None]]
"""What runs around the app: started before the first request, stopped after the last."""


def create_app(
    mediator: cqrs.RequestMediator,
    health_checks: collections.abc.Mapping[str, HealthCheck],
    lifespan: Lifespan | None = None,
) -> fastapi.FastAPI:
    """The API over `mediator` (binding `Restock` and `GetStock`).

    `health_checks` name what `GET /health` asks (each answers `True` when its
    dependency works); `lifespan` is FastAPI's, run by the server around the app.
    """
    app = fastapi.FastAPI(title="inventory", lifespan=lifespan)

    @app.post("/stock/{sku}/restock")
    async def restock(sku: Sku, body: RestockBody) -> StockView:
        return await mediator.send(Restock(sku=sku, quantity=body.quantity))

    @app.get("/stock/{sku}")
    async def get_stock(sku: Sku) -> StockView:
        return await mediator.send(GetStock(sku=sku))

    @app.get("/health")
    async def health() -> JSONResponse:
        names = list(health_checks)
        answers = await asyncio.gather(*(health_checks[name]() for name in names))
        healthy = all(answers)
        body: dict[str, str] = {"status": "ok" if healthy else "unavailable"}
        for name, up in zip(names, answers, strict=True):
            body[name] = "ok" if up else "unavailable"
        return JSONResponse(body, status_code=200 if healthy else 503)

    app.add_exception_handler(UnknownSkuError, _unknown_sku)
    app.add_exception_handler(StorageUnavailableError, _storage_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    return app


async def _unknown_sku(_request: fastapi.Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _storage_unavailable(request: fastapi.Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the inventory database is unavailable; try again shortly"}, status_code=503
    )


async def _unexpected(request: fastapi.Request, exc: Exception) -> JSONResponse:
    # Starlette raises the error on to the server after this answer, and the
    # server logs its traceback: one line here says which request it was.
    logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse(
        {"detail": "the inventory failed to handle this request; it logged why"}, status_code=500
    )
