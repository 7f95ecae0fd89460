"""`InboxContract`: the tests every `InboxRepository` must pass.

Subclass it in a test module under a name starting with `Test` and give it a
`backend` fixture: an `InboxBackend` holding the inbox (built on the `clock`
fixture the contract provides) and the few things the tests need beside it.

```python
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.testing.clock import FakeClock
from cqrs.testing.inbox import InboxBackend, InboxContract


class MyInboxBackend(InboxBackend[AsyncSession]):
    def __init__(self, clock: FakeClock) -> None:
        self.inbox = MyInbox(clock=clock)

    def session(self) -> AsyncSession: ...  # a new session on the inbox's database
    async def records(self) -> list[InboxRecord]: ...  # what committed
    async def purge(self, older_than: datetime.datetime) -> int: ...  # the retention
    async def until_blocked(self) -> None: ...  # see InboxBackend.until_blocked


class TestMyInbox(InboxContract[AsyncSession]):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MyInboxBackend:
        return MyInboxBackend(clock)
```

cqrs-core's tests run it on `MemoryInbox`, cqrs-sqla's on `SqlAlchemyInbox`.

The tests need pytest and pytest-asyncio (`pip install 'cqrs-core[testing]'`);
they carry the `asyncio` mark, so they run in strict mode as in auto mode (in
strict mode an async `backend` fixture must be declared with
`pytest_asyncio.fixture`). Each test needs a fresh, empty inbox.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime
import types
import typing
import uuid

from typing_extensions import TypeVar

from cqrs.inbox.repository import InboxRecord, InboxRepository, InvalidInboxKeyError
from cqrs.testing._pytest import pytest
from cqrs.testing.clock import FakeClock

__all__ = ("InboxBackend", "InboxContract", "InboxSession")

_DAY = datetime.timedelta(days=1)


class InboxSession(typing.Protocol):
    """What the tests do with a session: open it, begin, commit, roll back.

    SQLAlchemy's `AsyncSession` and `MemoryInboxSession` have this shape.
    """

    def begin(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Open a transaction that commits when the block ends, or rolls back if it raises."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def __aenter__(self) -> object: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
        /,
    ) -> object:
        """Close the session, rolling back what was not committed."""
        ...


SessionT = TypeVar("SessionT", bound=InboxSession)


class InboxBackend(abc.ABC, typing.Generic[SessionT]):
    """An inbox under test, and how the tests reach its database."""

    #: The inbox under test, stamping its records with the contract's `clock`.
    inbox: InboxRepository[SessionT]

    @abc.abstractmethod
    def session(self) -> SessionT:
        """A new session on the inbox's database, not yet in a transaction."""

    @abc.abstractmethod
    async def records(self) -> list[InboxRecord]:
        """Every committed record, in any order, read outside the tests' transactions."""

    @abc.abstractmethod
    async def purge(self, older_than: datetime.datetime) -> int:
        """The inbox's retention: delete the records received before `older_than` in a
        transaction of its own; return how many."""

    @abc.abstractmethod
    async def until_blocked(self) -> None:
        """Return once a transaction waits for another one's uncommitted record of the
        same message (poll the database, say), so a test can end the holder and see
        what the waiter decides."""


class InboxContract(typing.Generic[SessionT]):
    """The inbox contract as pytest tests; subclass it as `Test...` and override the
    `backend` fixture (see the module docstring)."""

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the inbox must stamp its records with."""
        return FakeClock()

    @pytest.fixture
    def backend(self, clock: FakeClock) -> InboxBackend[SessionT]:
        """Override: the backend of a fresh, empty inbox whose clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `backend` fixture")

    async def test_the_inbox_implements_the_port(self, backend: InboxBackend[SessionT]) -> None:
        assert isinstance(backend.inbox, InboxRepository)

    async def test_a_redelivered_message_is_recorded_and_handled_once(
        self, backend: InboxBackend[SessionT], clock: FakeClock
    ) -> None:
        message_id = uuid.uuid4()
        effects: list[uuid.UUID] = []

        first = await _handle(backend, "inventory", message_id, effects)
        second = await _handle(backend, "inventory", message_id, effects)

        assert (first, second) == (True, False)
        assert effects == [message_id]
        assert await backend.records() == [InboxRecord("inventory", message_id, clock())]

    async def test_a_record_is_invisible_until_its_transaction_commits(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        message_id = uuid.uuid4()
        session = backend.session()
        async with session:
            assert await backend.inbox.record(session, "inventory", message_id)  # autobegins
            assert await backend.records() == []
            await session.commit()

        assert [record.message_id for record in await backend.records()] == [message_id]

    async def test_a_rolled_back_handler_leaves_no_record_so_the_redelivery_is_handled(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        message_id = uuid.uuid4()
        effects: list[uuid.UUID] = []

        with pytest.raises(_HandlerFailed):
            await _handle(backend, "inventory", message_id, effects, fail=True)

        assert await backend.records() == []
        assert await _handle(backend, "inventory", message_id, effects)
        assert len(await backend.records()) == 1

    async def test_an_explicit_rollback_drops_the_record_and_the_session_goes_on(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        message_id = uuid.uuid4()
        session = backend.session()

        async with session:
            assert await backend.inbox.record(session, "inventory", message_id)
            await session.rollback()
            assert await backend.records() == []
            assert await backend.inbox.record(session, "inventory", message_id)
            await session.commit()

        assert len(await backend.records()) == 1

    async def test_closing_a_session_without_committing_rolls_back(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        session = backend.session()

        async with session:
            assert await backend.inbox.record(session, "inventory", uuid.uuid4())

        assert await backend.records() == []

    async def test_a_transaction_sees_its_own_record(self, backend: InboxBackend[SessionT]) -> None:
        message_id = uuid.uuid4()
        session = backend.session()

        async with session, session.begin():
            first = await backend.inbox.record(session, "inventory", message_id)
            again = await backend.inbox.record(session, "inventory", message_id)

        assert (first, again) == (True, False)
        assert len(await backend.records()) == 1

    async def test_consumers_keep_records_of_their_own(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        message_id = uuid.uuid4()

        results = [
            await _deliver(backend, consumer, message_id)
            for consumer in ("inventory", "billing", "inventory", "billing")
        ]

        assert results == [True, True, False, False]
        assert sorted(record.consumer for record in await backend.records()) == [
            "billing",
            "inventory",
        ]

    async def test_records_carry_the_clock_time_time_zone_aware(
        self, backend: InboxBackend[SessionT], clock: FakeClock
    ) -> None:
        clock.advance(seconds=90)

        await _deliver(backend, "inventory", uuid.uuid4())

        [record] = await backend.records()
        assert record.received_at == clock()
        assert record.received_at.utcoffset() is not None

    @pytest.mark.parametrize("holder_commits", [True, False], ids=["commit", "rollback"])
    async def test_a_concurrent_delivery_waits_for_the_holder_to_finish(
        self, backend: InboxBackend[SessionT], holder_commits: bool
    ) -> None:
        message_id = uuid.uuid4()
        holder = backend.session()
        async with holder:
            assert await backend.inbox.record(holder, "inventory", message_id)
            waiter = asyncio.ensure_future(_deliver(backend, "inventory", message_id))
            try:
                await asyncio.wait_for(backend.until_blocked(), _DEADLINE)
                assert not waiter.done()
                await (holder.commit() if holder_commits else holder.rollback())
                # Committed: the waiter finds the record. Rolled back: it records the message.
                assert await asyncio.wait_for(waiter, _DEADLINE) is not holder_commits
            finally:
                waiter.cancel()

        assert [record.message_id for record in await backend.records()] == [message_id]

    async def test_exactly_one_of_many_simultaneous_deliveries_is_new(
        self, backend: InboxBackend[SessionT]
    ) -> None:
        message_id = uuid.uuid4()

        results = await asyncio.wait_for(
            asyncio.gather(*(_deliver(backend, "inventory", message_id) for _ in range(5))),
            _DEADLINE,
        )

        assert sorted(results) == [False] * 4 + [True]
        assert len(await backend.records()) == 1

    async def test_purge_deletes_only_older_records_which_are_then_new_again(
        self, backend: InboxBackend[SessionT], clock: FakeClock
    ) -> None:
        old, recent = uuid.uuid4(), uuid.uuid4()
        await _deliver(backend, "inventory", old)
        clock.advance(2 * _DAY)
        await _deliver(backend, "inventory", recent)

        purged = await backend.purge(clock() - _DAY)

        assert purged == 1
        assert [record.message_id for record in await backend.records()] == [recent]
        assert await _deliver(backend, "inventory", old)  # forgotten: handled again
        assert not await _deliver(backend, "inventory", recent)

    async def test_purge_refuses_a_naive_cutoff(self, backend: InboxBackend[SessionT]) -> None:
        with pytest.raises(ValueError, match="time zone aware"):
            await backend.purge(datetime.datetime(2024, 1, 1))

    async def test_a_naive_clock_is_refused(
        self, backend: InboxBackend[SessionT], clock: FakeClock
    ) -> None:
        clock.now = clock.now.replace(tzinfo=None)

        with pytest.raises(ValueError, match="naive"):
            await _deliver(backend, "inventory", uuid.uuid4())

    @pytest.mark.parametrize(
        ("consumer", "message_id"),
        [("", uuid.uuid4()), ("x" * 256, uuid.uuid4()), ("inventory", str(uuid.uuid4()))],
        ids=["empty-consumer", "long-consumer", "str-id"],
    )
    async def test_an_unusable_key_is_refused(
        self, backend: InboxBackend[SessionT], consumer: str, message_id: typing.Any
    ) -> None:
        session = backend.session()

        async with session:
            with pytest.raises(InvalidInboxKeyError):
                await backend.inbox.record(session, consumer, message_id)

        assert await backend.records() == []


#: The most any wait in these tests may take: far above what they need.
_DEADLINE: typing.Final = 30.0


class _HandlerFailed(Exception):
    """A handler's failure, which rolls its transaction back."""


async def _deliver(backend: InboxBackend[typing.Any], consumer: str, message_id: uuid.UUID) -> bool:
    """Record `message_id` for `consumer` in a transaction of its own; what `record` said."""
    session = backend.session()
    async with session, session.begin():
        return await backend.inbox.record(session, consumer, message_id)


async def _handle(
    backend: InboxBackend[typing.Any],
    consumer: str,
    message_id: uuid.UUID,
    effects: list[uuid.UUID],
    *,
    fail: bool = False,
) -> bool:
    """An idempotent handler: records the message and, unless it is a duplicate, has
    its effect, or with `fail` raises instead. Whether it had the effect."""
    session = backend.session()
    async with session, session.begin():
        if not await backend.inbox.record(session, consumer, message_id):
            return False
        if fail:
            raise _HandlerFailed
        effects.append(message_id)
    return True
