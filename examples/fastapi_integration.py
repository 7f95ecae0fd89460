"""FastAPI: HTTP endpoints that only translate requests into commands and queries.

A school's seating API lets students join a classroom (PUT) and lists who is
in it (GET). The endpoints build a command or query and call
`mediator.send(...)` on a `cqrs.RequestMediator` obtained with
`fastapi.Depends(mediator_factory)`; the use cases live in the handlers, which
know nothing about HTTP. A domain error raised by a handler propagates out of
`send` and is mapped to a status code by an exception handler.

`app` is the ASGI application (`uvicorn examples.fastapi_integration:app`);
`main()` drives it in-process through httpx.

Run: `python examples/fastapi_integration.py`
"""

from __future__ import annotations

import asyncio
import functools
import typing

import di
import fastapi
import httpx
import pydantic
from fastapi import status

import cqrs
from cqrs.requests import bootstrap

CLASSROOM_CAPACITY = 2
CLASSROOMS: dict[int, list[str]] = {}


class JoinClassroomCommand(cqrs.Request):
    classroom_id: int
    student_id: str


class ListClassroomQuery(cqrs.Request):
    classroom_id: int


class ClassroomRoster(cqrs.Response):
    classroom_id: int
    students: list[str]
    seats_left: int


class ClassroomFullError(Exception):
    def __init__(self, classroom_id: int) -> None:
        super().__init__(f"classroom {classroom_id} is full")
        self.classroom_id = classroom_id


class JoinClassroomHandler(cqrs.RequestHandler[JoinClassroomCommand, None]):
    async def handle(self, request: JoinClassroomCommand) -> None:
        students = CLASSROOMS.setdefault(request.classroom_id, [])
        if request.student_id in students:
            return
        if len(students) >= CLASSROOM_CAPACITY:
            raise ClassroomFullError(request.classroom_id)
        students.append(request.student_id)


class ListClassroomHandler(cqrs.RequestHandler[ListClassroomQuery, ClassroomRoster]):
    async def handle(self, request: ListClassroomQuery) -> ClassroomRoster:
        students = CLASSROOMS.get(request.classroom_id, [])
        return ClassroomRoster(
            classroom_id=request.classroom_id,
            students=list(students),
            seats_left=CLASSROOM_CAPACITY - len(students),
        )


@functools.lru_cache
def mediator_factory() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(JoinClassroomCommand, JoinClassroomHandler),
        queries_mapper=lambda m: m.bind(ListClassroomQuery, ListClassroomHandler),
    )


router = fastapi.APIRouter(prefix="/classrooms")


@router.put("/{classroom_id}/{student_id}", status_code=status.HTTP_200_OK)
async def join_classroom(
    classroom_id: pydantic.PositiveInt,
    student_id: str,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),  # noqa: B008
) -> dict[str, str]:
    await mediator.send(JoinClassroomCommand(classroom_id=classroom_id, student_id=student_id))
    return {"result": "ok"}


@router.get("/{classroom_id}", status_code=status.HTTP_200_OK)
async def list_classroom(
    classroom_id: pydantic.PositiveInt,
    mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory),  # noqa: B008
) -> dict[str, typing.Any]:
    roster = await mediator.send(ListClassroomQuery(classroom_id=classroom_id))
    return roster.to_dict()


app = fastapi.FastAPI(title="Classroom seating")
app.include_router(router)


@app.exception_handler(ClassroomFullError)
async def classroom_full(
    request: fastapi.Request, exc: ClassroomFullError
) -> fastapi.responses.JSONResponse:
    return fastapi.responses.JSONResponse(
        status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)}
    )


async def main() -> list[tuple[int, typing.Any]]:
    CLASSROOMS.clear()
    transport = httpx.ASGITransport(app=app)
    calls = [
        ("PUT", "/classrooms/12/amara"),
        ("PUT", "/classrooms/12/bruno"),
        ("PUT", "/classrooms/12/chen"),  # no seat left: 409
        ("PUT", "/classrooms/0/dana"),  # not a positive id: 422
        ("GET", "/classrooms/12"),
    ]
    results: list[tuple[int, typing.Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://school.test") as client:
        for method, url in calls:
            response = await client.request(method, url)
            results.append((response.status_code, response.json()))
            print(f"{method} {url} -> {response.status_code} {response.json()}")
    return results


if __name__ == "__main__":
    asyncio.run(main())
