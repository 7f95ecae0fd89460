"""`IdempotencyContract`: the tests every `IdempotencyStore` must pass.

Subclass it in a test module under a name starting with `Test` and give it a
`backend` fixture: an `IdempotencyBackend` holding the store (built on the
`clock` fixture the contract provides, with `IdempotencyContract.TTL`) and
the few things the tests need beside it.

```python
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.testing.clock import FakeClock
from cqrs.testing.idempotency import IdempotencyBackend, IdempotencyContract


class MyBackend(IdempotencyBackend[AsyncSession]):
    def __init__(self, clock: FakeClock) -> None:
        self.store = MyStore(ttl=IdempotencyContract.TTL, clock=clock)

    def session(self) -> AsyncSession: ...  # a new session on the store's database
    async def purge(self) -> int: ...  # the store's retention
    async def until_blocked(self) -> None: ...  # a claim waits for another transaction


class TestMyStore(IdempotencyContract[AsyncSession]):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MyBackend:
        return MyBackend(clock)
```

cqrs-core's tests run it on `MemoryIdempotencyStore`, cqrs-sqla's on
`SqlAlchemyIdempotencyStore` (PostgreSQL and SQLite). Each test needs a
fresh, empty store. Needs pytest and pytest-asyncio (`pip install
'cqrs-core[testing]'`).
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import typing

from typing_extensions import TypeVar

from cqrs.idempotency.store import (
    IdempotencyConflictError,
    IdempotencyStore,
    IdempotencyUsageError,
    IdempotentRequest,
    InvalidIdempotencyKeyError,
    fingerprint,
)
from cqrs.testing._pytest import pytest
from cqrs.testing.clock import FakeClock
from cqrs.testing.inbox import InboxSession

__all__ = ("IdempotencyBackend", "IdempotencyContract")

SessionT = TypeVar("SessionT", bound=InboxSession)

#: The most any wait in these tests may take: far above what they need.
_DEADLINE: typing.Final = 30.0


class IdempotencyBackend(abc.ABC, typing.Generic[SessionT]):
    """A store under test, and how the tests reach its database."""

    #: The store under test, on the contract's `clock`, keeping keys for `IdempotencyContract.TTL`.
    store: IdempotencyStore[SessionT]

    @abc.abstractmethod
    def session(self) -> SessionT:
        """A new session on the store's database, not yet in a transaction."""

    @abc.abstractmethod
    async def purge(self) -> int:
        """The store's retention: delete the expired keys in a transaction of its own;
        return how many."""

    @abc.abstractmethod
    async def until_blocked(self) -> None:
        """Return once a transaction waits for another one's uncommitted claim of the
        same key (poll the database, say)."""


def _request(key: str = "k-1", body: bytes = b"2 x sku-1", scope: str = "c-1") -> IdempotentRequest:
    return IdempotentRequest(scope, key, fingerprint(body))


class IdempotencyContract(typing.Generic[SessionT]):
    """The idempotency contract as pytest tests; subclass it as `Test...` and override
    the `backend` fixture (see the module docstring)."""

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    #: The time to live the backend's store is built with.
    TTL: typing.ClassVar[datetime.timedelta] = datetime.timedelta(hours=1)

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the store must read."""
        return FakeClock()

    @pytest.fixture
    def backend(self, clock: FakeClock) -> IdempotencyBackend[SessionT]:
        """Override: the backend of a fresh, empty store whose clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `backend` fixture")

    async def test_the_store_implements_the_port(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        assert isinstance(backend.store, IdempotencyStore)

    async def test_a_retry_gets_the_first_answer_and_does_no_second_work(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        work: list[str] = []

        first = await _place(backend, _request(), work)
        retry = await _place(backend, _request(), work)

        assert first == retry == "answer 1"
        assert work == ["answer 1"]

    async def test_the_same_key_with_another_body_is_a_conflict(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        work: list[str] = []
        await _place(backend, _request(body=b"2 x sku-1"), work)

        with pytest.raises(IdempotencyConflictError, match="k-1"):
            await _place(backend, _request(body=b"9 x sku-1"), work)

        assert work == ["answer 1"]

    async def test_a_rolled_back_claim_leaves_the_key_new(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        work: list[str] = []

        with pytest.raises(_Crash):
            await _place(backend, _request(), work, crash=True)

        assert await _place(backend, _request(), work) == "answer 2"

    async def test_keys_of_other_scopes_are_apart(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        work: list[str] = []

        answers = [
            await _place(backend, _request(scope=scope, body=scope.encode()), work)
            for scope in ("c-1", "c-2", "c-1")
        ]

        assert answers == ["answer 1", "answer 2", "answer 1"]

    async def test_a_key_expires_after_the_ttl(
        self, backend: IdempotencyBackend[SessionT], clock: FakeClock
    ) -> None:
        work: list[str] = []
        await _place(backend, _request(), work)
        clock.advance(seconds=self.TTL.total_seconds() - 1)
        assert await _place(backend, _request(body=b"another"), work, conflict_ok=True) is None

        clock.advance(seconds=1)

        assert await _place(backend, _request(body=b"another"), work) == "answer 2"

    async def test_purge_deletes_only_expired_keys(
        self, backend: IdempotencyBackend[SessionT], clock: FakeClock
    ) -> None:
        await _place(backend, _request(key="old"), [])
        clock.advance(seconds=self.TTL.total_seconds())
        await _place(backend, _request(key="new"), [])

        assert await backend.purge() == 1

        assert await _place(backend, _request(key="new"), []) == "answer 1"

    @pytest.mark.parametrize("holder_commits", [True, False], ids=["commit", "rollback"])
    async def test_a_concurrent_claim_waits_for_the_holder(
        self, backend: IdempotencyBackend[SessionT], holder_commits: bool
    ) -> None:
        holder = backend.session()
        async with holder:
            assert await backend.store.claim(holder, _request()) is None
            await backend.store.save(holder, _request(), "held")
            waiter = asyncio.ensure_future(_place(backend, _request(), []))
            try:
                await asyncio.wait_for(backend.until_blocked(), _DEADLINE)
                assert not waiter.done()
                await (holder.commit() if holder_commits else holder.rollback())
                expected = "held" if holder_commits else "answer 1"
                assert await asyncio.wait_for(waiter, _DEADLINE) == expected
            finally:
                waiter.cancel()

    async def test_a_save_without_a_claim_is_refused(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        session = backend.session()
        async with session:
            with pytest.raises(IdempotencyUsageError, match="claim"):
                await backend.store.save(session, _request(), "answer")

    async def test_a_key_committed_without_an_answer_is_reported(
        self, backend: IdempotencyBackend[SessionT]
    ) -> None:
        session = backend.session()
        async with session, session.begin():
            await backend.store.claim(session, _request())

        with pytest.raises(IdempotencyUsageError, match="save"):
            await _place(backend, _request(), [])

    async def test_a_naive_clock_is_refused(
        self, backend: IdempotencyBackend[SessionT], clock: FakeClock
    ) -> None:
        clock.now = clock.now.replace(tzinfo=None)

        with pytest.raises(ValueError, match="naive"):
            await _place(backend, _request(), [])

    @pytest.mark.parametrize(
        ("scope", "key"),
        [("c-1", ""), ("c-1", "k" * 256), ("c-1", "k\n1"), ("c-1", "clé"), ("", "k-1")],
        ids=["empty", "long", "control", "non-ascii", "empty-scope"],
    )
    async def test_an_unusable_key_is_refused(self, scope: str, key: str) -> None:
        with pytest.raises(InvalidIdempotencyKeyError):
            IdempotentRequest(scope, key, fingerprint(b""))


class _Crash(Exception):
    """The server dying before its transaction commits."""


async def _place(
    backend: IdempotencyBackend[typing.Any],
    request: IdempotentRequest,
    work: list[str],
    *,
    crash: bool = False,
    conflict_ok: bool = False,
) -> str | None:
    """An idempotent handler: the first answer under the key, or new work and its
    answer (`answer <n>`); with `conflict_ok` a conflict returns `None`."""
    session = backend.session()
    async with session, session.begin():
        try:
            stored = await backend.store.claim(session, request)
        except IdempotencyConflictError:
            if conflict_ok:
                return None
            raise
        if stored is not None:
            return stored
        work.append(answer := f"answer {len(work) + 1}")
        await backend.store.save(session, request, answer)
        if crash:
            raise _Crash
        return answer
