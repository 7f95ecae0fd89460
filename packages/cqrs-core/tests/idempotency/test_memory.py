"""`MemoryIdempotencyStore` against the idempotency contract, plus what only it has."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from cqrs.exceptions import ConfigurationError
from cqrs.idempotency import (
    IdempotencyDeadlockError,
    IdempotentRequest,
    MemoryIdempotencySession,
    MemoryIdempotencyStore,
    fingerprint,
)
from cqrs.testing.clock import FakeClock
from cqrs.testing.idempotency import IdempotencyBackend, IdempotencyContract


class MemoryBackend(IdempotencyBackend[MemoryIdempotencySession]):
    def __init__(self, clock: FakeClock) -> None:
        self.store = self.memory = MemoryIdempotencyStore(IdempotencyContract.TTL, clock)

    def session(self) -> MemoryIdempotencySession:
        return self.memory.session()

    async def purge(self) -> int:
        return await self.memory.purge()

    async def until_blocked(self) -> None:
        await asyncio.sleep(0)  # no I/O: the waiting task reaches its wait in one turn


class TestMemoryIdempotencyStore(IdempotencyContract[MemoryIdempotencySession]):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MemoryBackend:
        return MemoryBackend(clock)


def request(key: str) -> IdempotentRequest:
    return IdempotentRequest("c-1", key, fingerprint(b"{}"))


async def test_answers_show_what_committed() -> None:
    store = MemoryIdempotencyStore()
    async with store.session() as session, session.begin():
        await store.claim(session, request("k-1"))
        await store.save(session, request("k-1"), "order 1")

    assert store.answers() == {("c-1", "k-1"): "order 1"}


async def test_a_session_of_another_store_is_refused() -> None:
    other = MemoryIdempotencyStore().session()

    with pytest.raises(ConfigurationError, match="not a session of this"):
        await MemoryIdempotencyStore().claim(other, request("k-1"))


def test_a_ttl_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        MemoryIdempotencyStore(ttl=datetime.timedelta(0))


async def test_two_transactions_claiming_each_others_keys_deadlock() -> None:
    store = MemoryIdempotencyStore()
    first, second = store.session(), store.session()
    await store.claim(first, request("a"))
    await store.claim(second, request("b"))
    waiting = asyncio.ensure_future(store.claim(first, request("b")))
    await asyncio.sleep(0)  # no I/O: it reaches its wait in one turn

    with pytest.raises(IdempotencyDeadlockError):
        await store.claim(second, request("a"))

    await second.rollback()
    assert await waiting is None
    await first.rollback()
