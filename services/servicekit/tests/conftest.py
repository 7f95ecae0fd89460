"""A small app with every kind of failure, served in process (httpx) or by uvicorn."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing

import fastapi
import httpx
import pydantic
import pytest
import uvicorn

from servicekit import ErrorAnswer, RequestBodyLimits, install_problem_details, problem_responses

MAX_BODY_BYTES = 1024


class OutOfTea(LookupError):
    """A client error: its message is written for the client."""


class SecretFailure(ValueError):
    """A client error whose message must not reach the client."""


class DatabaseDown(ConnectionError):
    """What the app counts as a dependency being unavailable."""


class Brew(pydantic.BaseModel):
    cups: int = pydantic.Field(strict=True, ge=1, le=10)
    blend: str = pydantic.Field(max_length=8)


def create_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI(title="teapot")
    install_problem_details(
        app,
        service="teapot",
        client_errors={
            OutOfTea: 404,
            SecretFailure: ErrorAnswer(422, "the teapot refused a value"),
        },
        unavailable=(DatabaseDown,),
    )
    app.add_middleware(RequestBodyLimits, max_bytes=MAX_BODY_BYTES)

    @app.post("/brew", responses=problem_responses(413, 415, 422))
    async def brew(body: Brew) -> dict[str, int]:
        return {"cups": body.cups}

    @app.get("/fail/{how}", responses=problem_responses(404, 422, 500, 503))
    async def fail(how: str) -> dict[str, str]:
        failures: dict[str, Exception] = {
            "out-of-tea": OutOfTea("no tea left; buy some"),
            "secret": SecretFailure("password=hunter2"),
            "database": DatabaseDown("connect to db.internal:5432 refused"),
            "bug": RuntimeError("internal state at 0xdeadbeef"),
        }
        raise failures[how]

    @app.post("/brews", responses=problem_responses(413, 415, 422))
    async def brews(body: list[Brew]) -> dict[str, int]:
        return {"brews": len(body)}

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def app() -> fastapi.FastAPI:
    return create_app()


@pytest.fixture
async def client(app: fastapi.FastAPI) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions: an error the app raises on after answering fails the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://teapot") as client:
        yield client


@contextlib.asynccontextmanager
async def served(
    app: fastapi.FastAPI,
) -> collections.abc.AsyncGenerator[tuple[str, int], None]:
    """`app` under uvicorn on a free port of 127.0.0.1 for the block: (host, port)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.ensure_future(server.serve())

    async def listening() -> None:
        while not server.started:
            assert not task.done(), "uvicorn stopped before it served"
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(listening(), timeout=10)
        socket = server.servers[0].sockets[0]
        yield typing.cast(tuple[str, int], socket.getsockname()[:2])
    finally:
        server.should_exit = True
        await task
