"""`RateLimit` on a small app: 429 with `Retry-After` once a client's budget is spent,
clients apart, the budget back with time (a fake clock: no sleeping)."""

import collections.abc
import typing

import fastapi
import httpx
import pytest

from cqrs.exceptions import ConfigurationError
from cqrs.testing.clock import FakeClock
from servicekit import install_problem_details, problem_responses
from servicekit.rate_limit import RateLimit


def client_header(request: fastapi.Request) -> str:
    return request.headers.get("x-client", "anonymous")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> collections.abc.AsyncIterator[httpx.AsyncClient]:
    limit = RateLimit.parse("3/minute", clock=clock)
    assert limit is not None
    app = fastapi.FastAPI()
    install_problem_details(app, service="shop")
    limited = limit.dependency(client_header)

    @app.post("/orders", responses=problem_responses(429), dependencies=[fastapi.Depends(limited)])
    async def place() -> dict[str, str]:
        return {"placed": "yes"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        yield client


async def place(client: httpx.AsyncClient, who: str) -> httpx.Response:
    return await client.post("/orders", headers={"x-client": who})


async def test_a_client_over_its_budget_gets_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    statuses = [(await place(client, "alice")).status_code for _ in range(4)]
    refused = await place(client, "alice")

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"  # one request per 20 s at 3/minute
    assert refused.headers["content-type"] == "application/problem+json"


async def test_clients_have_budgets_of_their_own(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await place(client, "alice")

    assert (await place(client, "alice")).status_code == 429
    assert (await place(client, "bob")).status_code == 200


async def test_the_budget_comes_back_with_time(client: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(3):
        await place(client, "alice")

    clock.advance(seconds=19)
    assert (await place(client, "alice")).status_code == 429
    clock.advance(seconds=1)
    assert (await place(client, "alice")).status_code == 200


@pytest.mark.parametrize("spec", ["", "off", " OFF ", None])
def test_off_means_no_limit(spec: typing.Any) -> None:
    assert RateLimit.parse(spec) is None


@pytest.mark.parametrize("spec", ["3", "3/day", "x/minute", "0/second"])
def test_a_setting_that_cannot_work_is_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        RateLimit.parse(spec)
