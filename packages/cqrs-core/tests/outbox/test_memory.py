"""`MemoryOutbox` against the outbox repository and outbox store contracts, plus what
only it has: `stage`, `rows`, `messages`, `replay_dead` and its size limit's setting."""

from __future__ import annotations

import collections.abc

import pydantic
import pytest

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import EventTooLargeError
from cqrs.message_brokers.protocol import Message, payload_json
from cqrs.outbox import MemoryOutbox, MemoryOutboxSession, OutboxRelay, OutboxStatus, RetryPolicy
from cqrs.outbox.models import OutboxedEvent
from cqrs.testing import registered_outbox_events
from cqrs.testing.brokers import FailingBroker
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_repository import OutboxRepositoryBackend, OutboxRepositoryContract
from cqrs.testing.outbox_store import OutboxStoreBackend, OutboxStoreContract


class MemoryOutboxBackend(OutboxRepositoryBackend[MemoryOutboxSession], OutboxStoreBackend):
    def __init__(self, outbox: MemoryOutbox) -> None:
        self.repository = self.store = self.memory = outbox

    async def messages(self) -> list[Message]:
        return self.memory.messages()

    async def write(self, messages: list[Message]) -> None:
        self.memory.stage(messages)

    async def rows(self) -> list[OutboxedEvent]:
        return self.memory.rows()

    def another_store(self) -> MemoryOutbox:
        return self.memory  # relays on one event loop share the outbox itself


class TestMemoryOutboxRepository(OutboxRepositoryContract[MemoryOutboxSession]):
    @pytest.fixture
    def backend(self) -> MemoryOutboxBackend:
        return MemoryOutboxBackend(MemoryOutbox())


class TestMemoryOutboxStore(OutboxStoreContract):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MemoryOutboxBackend:
        return MemoryOutboxBackend(MemoryOutbox(clock))


def test_rows_and_messages_list_what_was_staged_in_write_order() -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    staged = [Message("a", "orders", {}), Message("b", "users", {}), Message("c", "orders", {})]

    outbox.stage(staged)

    assert [(row.id, row.message, row.created_at) for row in outbox.rows()] == [
        (1, staged[0], clock()),
        (2, staged[1], clock()),
        (3, staged[2], clock()),
    ]
    assert outbox.messages() == staged
    assert outbox.messages("orders") == [staged[0], staged[2]]
    assert outbox.rows(OutboxStatus.DEAD) == []


async def test_replay_dead_makes_dead_rows_pending_and_due_again() -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    outbox.stage([Message("a", "orders", {}, key="o1")])
    broker = FailingBroker()
    broker.refuse(1)
    relay = OutboxRelay(outbox, broker, retry=RetryPolicy(max_attempts=1))
    await relay.run_once()
    assert [row.status for row in outbox.rows()] == [OutboxStatus.DEAD]

    assert outbox.replay_dead() == 1

    [row] = outbox.rows()
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.PENDING, 0, None)
    assert await relay.run_once() == 1
    assert outbox.replay_dead() == 0


async def test_ids_keep_growing_after_rows_are_purged() -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    outbox.stage([Message("a", "orders", {})])
    await OutboxRelay(outbox, FailingBroker()).run_once()
    clock.advance(seconds=1)
    assert await outbox.purge_published(clock()) == 1

    outbox.stage([Message("b", "orders", {})])

    assert [row.id for row in outbox.rows()] == [2]


class Note(pydantic.BaseModel):
    text: str


Noted = NotificationEvent[Note]


@pytest.fixture
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"noted": Noted}):
        yield


@pytest.mark.usefixtures("registered")
async def test_the_size_limit_is_configurable_and_inclusive() -> None:
    event = Noted(event_name="noted", topic="notes", payload=Note(text="hello"))
    limit = len(payload_json(event.to_dict())) + len(b"key")
    outbox = MemoryOutbox(max_message_bytes=limit)

    async with outbox as session:
        outbox.add(session, event, key="key")
        with pytest.raises(EventTooLargeError):
            outbox.add(session, event, key="key2")  # one byte more, in the key
        await outbox.commit(session)

    assert len(outbox.rows()) == 1
