"""`cqrs_sqla.greenlets.spawn`: SQLAlchemy's greenlet_spawn on greenlets kept for reuse."""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import typing

import greenlet
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from cqrs_sqla.engine import create_engine
from cqrs_sqla.greenlets import spawn
from cqrs_sqla.saga_pg import on_driver

_request = contextvars.ContextVar[str]("request")


async def _later(value: int) -> int:
    await asyncio.sleep(0)
    return value


async def test_a_function_awaits_in_it_and_its_result_comes_back() -> None:
    assert await spawn(lambda: await_only(_later(1)) + await_only(_later(2))) == 3


async def test_an_error_of_the_function_reaches_the_caller_and_the_greenlet_serves_again() -> None:
    def failing() -> int:
        await_only(_later(0))
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await spawn(failing)
    assert await spawn(lambda: await_only(_later(5))) == 5


async def test_consecutive_calls_run_on_one_greenlet() -> None:
    first = await spawn(greenlet.getcurrent)
    second = await spawn(greenlet.getcurrent)
    assert first is second
    assert first is not greenlet.getcurrent()


async def test_calls_in_flight_together_each_get_a_greenlet() -> None:
    started = asyncio.Event()

    def held() -> greenlet.greenlet:
        await_only(started.wait())
        return greenlet.getcurrent()

    waiting = asyncio.ensure_future(spawn(held))
    await asyncio.sleep(0)
    other = await spawn(greenlet.getcurrent)
    started.set()
    assert await waiting is not other


async def test_the_function_sees_the_callers_context_variables() -> None:
    async def one(name: str) -> str:
        _request.set(name)
        return await spawn(_request.get)

    assert await asyncio.gather(one("a"), one("b")) == ["a", "b"]


async def test_cancelling_the_caller_runs_the_functions_cleanup_and_frees_the_greenlet() -> None:
    cleaned: list[str] = []
    forever = asyncio.Event()

    def held() -> None:
        try:
            await_only(forever.wait())
        finally:
            cleaned.append("done")

    task = asyncio.ensure_future(spawn(held))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["done"]
    assert await spawn(lambda: await_only(_later(7))) == 7


@pytest.fixture
async def postgres_engine(postgres_url: str) -> collections.abc.AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


async def test_statements_on_the_driver_reuse_one_greenlet(postgres_engine: AsyncEngine) -> None:
    # A new greenlet per statement cost the kernel an mmap and an munmap each.
    async def where(driver: typing.Any) -> greenlet.greenlet:
        await driver.fetchval("SELECT 1")
        return greenlet.getcurrent()

    first = await on_driver(postgres_engine, where)
    assert await on_driver(postgres_engine, where) is first
