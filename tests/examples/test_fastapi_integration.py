"""examples/fastapi_integration.py: FastAPI endpoints sending commands and queries."""

import collections.abc

import httpx
import pytest

from examples import fastapi_integration as example


@pytest.fixture
async def client() -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    example.CLASSROOMS.clear()
    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://school.test") as client:
        yield client


async def test_main_drives_the_app() -> None:
    results = await example.main()

    assert [status for status, _ in results] == [200, 200, 409, 422, 200]
    assert results[0][1] == {"result": "ok"}
    assert results[2][1] == {"detail": "classroom 12 is full"}
    assert results[4][1] == {"classroom_id": 12, "students": ["amara", "bruno"], "seats_left": 0}


async def test_put_sends_the_command(client: httpx.AsyncClient) -> None:
    response = await client.put("/classrooms/3/zoe")

    assert response.status_code == 200
    assert response.json() == {"result": "ok"}
    assert example.CLASSROOMS == {3: ["zoe"]}


async def test_joining_twice_is_idempotent(client: httpx.AsyncClient) -> None:
    await client.put("/classrooms/3/zoe")
    await client.put("/classrooms/3/zoe")

    listed = await client.get("/classrooms/3")
    assert listed.json() == {"classroom_id": 3, "students": ["zoe"], "seats_left": 1}


async def test_path_parameters_are_validated_before_the_mediator(client: httpx.AsyncClient) -> None:
    response = await client.put("/classrooms/-4/zoe")

    assert response.status_code == 422
    assert example.CLASSROOMS == {}


def test_endpoints_share_one_mediator() -> None:
    assert example.mediator_factory() is example.mediator_factory()
