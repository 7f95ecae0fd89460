"""python-cqrs `examples/fastapi_integration.py`: a FastAPI route sends a query through a
mediator that `fastapi.Depends` provides."""

from __future__ import annotations

import functools
import typing

import di
import fastapi
import httpx

import cqrs
from cqrs.requests import bootstrap

api_router = fastapi.APIRouter(prefix="/api")


class Hello(cqrs.Request):
    msg: str


class World(cqrs.Response):
    msg: str


class HelloWorldQueryHandler(cqrs.RequestHandler[Hello, World]):
    @property
    def events(self) -> typing.List[cqrs.Event]:  # noqa: UP006 - python-cqrs's spelling
        return []

    async def handle(self, request: Hello) -> World:
        return World(msg=f"{request.msg}, CQRS!")


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(Hello, HelloWorldQueryHandler)


@functools.lru_cache
def mediator_factory() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=di.Container(), queries_mapper=queries_mapper, on_startup=None
    )


@api_router.get("/hello", status_code=fastapi.status.HTTP_200_OK)
async def hello_world(
    msg: typing.Text = fastapi.Query(default="Hello World"),  # noqa: UP019, B008
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),  # noqa: B008
) -> World:
    return await mediator.send(Hello(msg=msg))


async def test_the_route_answers_with_the_handler_s_response() -> None:
    app = fastapi.FastAPI()
    app.include_router(api_router)
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        default = await client.get("/api/hello")
        custom = await client.get("/api/hello", params={"msg": "Hi"})

    assert (default.status_code, default.json()) == (200, {"msg": "Hello World, CQRS!"})
    assert custom.json() == {"msg": "Hi, CQRS!"}
