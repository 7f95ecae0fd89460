"""`OutboxRepositoryContract`: the tests every `OutboxedEventRepository` must pass.

Subclass it in a test module under a name starting with `Test` and give it a
`backend` fixture: an `OutboxRepositoryBackend` holding the repository and
reading back what was committed.

```python
import pytest

from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox, MemoryOutboxSession
from cqrs.testing.outbox_repository import OutboxRepositoryBackend, OutboxRepositoryContract


class MemoryOutboxBackend(OutboxRepositoryBackend[MemoryOutboxSession]):
    def __init__(self) -> None:
        self.repository = self.memory = MemoryOutbox()

    async def messages(self) -> list[Message]:
        return self.memory.messages()


class TestMemoryOutbox(OutboxRepositoryContract[MemoryOutboxSession]):
    @pytest.fixture
    def backend(self) -> MemoryOutboxBackend:
        return MemoryOutboxBackend()
```

The suite registers its own event names in `OutboxedEventMap` for each test
and restores the registry afterwards. The repository must have the default
size limit (`max_message_bytes`, `DEFAULT_MAX_MESSAGE_BYTES`). It needs pytest and pytest-asyncio
(`pip install 'cqrs-core[testing]'`); see `cqrs.testing.inbox` for strict mode.
Each test needs a fresh, empty outbox.
"""

from __future__ import annotations

import abc
import asyncio
import collections.abc
import typing

import pydantic
from typing_extensions import TypeVar

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError, EventTooLargeError
from cqrs.message_brokers.protocol import Message, payload_json
from cqrs.outbox.repository import (
    DEFAULT_MAX_MESSAGE_BYTES,
    OutboxedEventRepository,
    UnregisteredEventError,
)
from cqrs.testing._pytest import pytest
from cqrs.testing.outbox import registered_outbox_events

__all__ = ("OutboxRepositoryBackend", "OutboxRepositoryContract")

SessionT = TypeVar("SessionT", default=typing.Any)

_NAME = "cqrs_testing_outbox_repository_parcel_shipped"
#: The most any wait in these tests may take: far above what they need.
_DEADLINE: typing.Final = 30.0


class _Parcel(pydantic.BaseModel):
    parcel_id: str
    recipient: str = "Zoë Ångström 東京 🚚"
    lines: list[dict[str, typing.Any]] = pydantic.Field(
        default_factory=lambda: [{"sku": "sku-1", "quantity": 2, "fragile": True, "note": None}]
    )


def _shipped(parcel_id: str) -> NotificationEvent[_Parcel]:
    return NotificationEvent[_Parcel](
        event_name=_NAME, topic="parcels", payload=_Parcel(parcel_id=parcel_id)
    )


class OutboxRepositoryBackend(abc.ABC, typing.Generic[SessionT]):
    """An outbox repository under test, and how the tests read what it committed."""

    #: The repository under test.
    repository: OutboxedEventRepository[SessionT]

    @abc.abstractmethod
    async def messages(self) -> list[Message]:
        """Every message committed to the outbox, in write order, read outside the
        tests' transactions (the payload as the broker will get it)."""


class OutboxRepositoryContract(typing.Generic[SessionT]):
    """The outbox repository contract as pytest tests; subclass it as `Test...` and
    override the `backend` fixture (see the module docstring)."""

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    @pytest.fixture(autouse=True)
    def _registered_events(self) -> collections.abc.Iterator[None]:
        with registered_outbox_events({_NAME: NotificationEvent[_Parcel]}):
            yield

    @pytest.fixture
    def backend(self) -> OutboxRepositoryBackend[SessionT]:
        """Override: the backend of a fresh, empty outbox."""
        raise NotImplementedError(f"{type(self).__name__} must override the `backend` fixture")

    async def test_a_committed_event_is_stored_as_the_message_the_broker_will_get(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, event = backend.repository, _shipped("p-1")

        async with outbox as session:
            outbox.add(session, event, key="p-1")
            await outbox.commit(session)

        [stored] = await backend.messages()
        assert stored == Message.from_event(event, key="p-1")
        assert (stored.message_id, stored.message_name, stored.topic, stored.key) == (
            event.event_id,
            _NAME,
            "parcels",
            "p-1",
        )
        assert stored.payload == event.to_dict()

    async def test_the_events_of_a_transaction_are_stored_in_the_order_added(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox = backend.repository
        keyed = [("p-1", _shipped("p-1")), (None, _shipped("p-2")), ("p-1", _shipped("p-3"))]

        async with outbox as session:
            for key, event in keyed:
                outbox.add(session, event, key=key)
            await outbox.commit(session)

        stored = await backend.messages()
        assert [(m.message_id, m.key) for m in stored] == [(e.event_id, k) for k, e in keyed]

    async def test_a_rolled_back_transaction_stores_nothing_and_the_session_goes_on(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, dropped, kept = backend.repository, _shipped("p-1"), _shipped("p-2")

        async with outbox as session:
            outbox.add(session, dropped)
            await outbox.rollback(session)
            assert await backend.messages() == []
            outbox.add(session, kept)
            await outbox.commit(session)

        assert [m.message_id for m in await backend.messages()] == [kept.event_id]

    async def test_leaving_the_block_without_a_commit_stores_nothing(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox = backend.repository

        async with outbox as session:
            outbox.add(session, _shipped("p-1"))

        assert await backend.messages() == []

    async def test_an_unregistered_event_is_refused_and_the_transaction_goes_on(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, kept = backend.repository, _shipped("p-2")
        stray = NotificationEvent[_Parcel](
            event_name=f"{_NAME}_unregistered", topic="parcels", payload=_Parcel(parcel_id="p-1")
        )

        async with outbox as session:
            with pytest.raises(UnregisteredEventError, match=f"{_NAME}_unregistered"):
                outbox.add(session, stray)
            outbox.add(session, kept)
            await outbox.commit(session)

        assert [m.message_id for m in await backend.messages()] == [kept.event_id]

    async def test_an_event_above_the_size_limit_is_refused_and_the_rest_commits(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, before, after = backend.repository, _shipped("p-1"), _shipped("p-3")
        too_big = _shipped("x" * DEFAULT_MAX_MESSAGE_BYTES)

        async with outbox as session:
            outbox.add(session, before, key="p")
            with pytest.raises(EventTooLargeError) as raised:
                outbox.add(session, too_big, key="p")
            outbox.add(session, after, key="p")
            await outbox.commit(session)

        stored = [m.message_id for m in await backend.messages()]
        assert stored == [before.event_id, after.event_id]
        assert raised.value.event_name == _NAME
        assert raised.value.size == len(payload_json(too_big.to_dict())) + len(b"p")
        assert raised.value.max_bytes == DEFAULT_MAX_MESSAGE_BYTES
        assert "max_message_bytes" in str(raised.value)

    async def test_commit_without_a_session_commits_the_one_the_block_opened(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, event = backend.repository, _shipped("p-1")

        async with outbox as session:
            outbox.add(session, event)
            await outbox.commit()

        assert [m.message_id for m in await backend.messages()] == [event.event_id]

    async def test_commit_without_a_session_outside_a_block_is_a_configuration_error(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        with pytest.raises(ConfigurationError, match="async with"):
            await backend.repository.commit()

    async def test_handlers_sharing_the_repository_each_commit_their_own_session(
        self, backend: OutboxRepositoryBackend[SessionT]
    ) -> None:
        outbox, kept, dropped = backend.repository, _shipped("p-1"), _shipped("p-2")
        first_added, second_left = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with outbox as session:
                outbox.add(session, kept)
                first_added.set()
                await second_left.wait()  # the other handler's block opened and closed
                await outbox.commit()  # the session this block opened

        async def second() -> None:
            await first_added.wait()
            async with outbox as session:
                outbox.add(session, dropped)  # left without committing
            second_left.set()

        await asyncio.wait_for(asyncio.gather(first(), second()), _DEADLINE)

        assert [m.message_id for m in await backend.messages()] == [kept.event_id]
