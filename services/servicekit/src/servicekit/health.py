"""`GET /health`: whether each dependency of the service answers.

`add_health_route(app, probes)` adds the route: each probe is awaited (at most
`PROBE_TIMEOUT` seconds, all at once); the answer is 200 when every one says
yes, else 503, and names each `"ok"` or `"unavailable"`. A probe that raises
or times out counts as unavailable, and the reason is logged.

>>> import httpx
>>> async def up() -> bool:
...     return True
>>> async def down() -> bool:
...     raise ConnectionRefusedError("no broker")
>>> app = fastapi.FastAPI()
>>> add_health_route(app, {"database": up, "broker": down})
>>> async def ask() -> httpx.Response:
...     transport = httpx.ASGITransport(app=app)
...     async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
...         return await client.get("/health")
>>> answer = asyncio.run(ask())
>>> answer.status_code, answer.json()
(503, {'status': 'unavailable', 'database': 'ok', 'broker': 'unavailable'})
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import logging
import typing

import fastapi
from fastapi.responses import JSONResponse

from servicekit.openapi import health_responses

__all__ = ("PROBE_TIMEOUT", "Lifespan", "Probe", "add_health_route")

logger = logging.getLogger("servicekit.health")

Probe = collections.abc.Callable[[], collections.abc.Awaitable[bool]]
"""Answers whether one dependency works: True when it does."""
PROBE_TIMEOUT: typing.Final = 2.0
Lifespan = collections.abc.Callable[[fastapi.FastAPI], contextlib.AbstractAsyncContextManager[None]]
"""What runs around an app: started before the first request, stopped after the last."""
"""Seconds a probe may take before its dependency counts as unavailable."""


def add_health_route(app: fastapi.FastAPI, probes: collections.abc.Mapping[str, Probe]) -> None:
    """Add `GET /health` asking `probes` (by name) to `app`."""
    checks = dict(probes)

    @app.get("/health", response_model=None, responses=health_responses())
    async def health() -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        names = list(checks)
        answers = await asyncio.gather(*(_answers(name, checks[name]) for name in names))
        healthy = all(answers)
        states = zip(names, answers, strict=True)
        body = {name: "ok" if up else "unavailable" for name, up in states}
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", **body},
            status_code=200 if healthy else 503,
        )


async def _answers(name: str, probe: Probe) -> bool:
    try:
        return await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    except Exception as exc:
        logger.warning("health: %s does not answer (%s: %s)", name, type(exc).__name__, exc)
        return False
