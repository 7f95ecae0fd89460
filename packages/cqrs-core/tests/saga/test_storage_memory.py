"""`MemorySagaStorage` against the saga storage contract, plus what only it has."""

from __future__ import annotations

import uuid

import pytest

from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.models import SagaStepAction, SagaStepStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing.clock import FakeClock
from cqrs.testing.saga_storage import SagaStorageContract


class TestMemorySagaStorage(SagaStorageContract):
    @pytest.fixture
    def storage(self, clock: FakeClock) -> MemorySagaStorage:
        return MemorySagaStorage(clock=clock)

    async def staged_messages(self, storage: ISagaStorage) -> list[Message]:
        assert isinstance(storage, MemorySagaStorage)
        return storage.outbox.messages()


async def test_messages_are_staged_in_the_outbox_given_with_the_storage_clock() -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock)
    storage = MemorySagaStorage(clock=clock, outbox=outbox)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "ParcelSaga", {"parcel_id": "p-1"})
    message = Message(message_name="Ship", topic="parcels", payload={"parcel_id": "p-1"})
    clock.advance(seconds=5)

    await storage.record_step(
        saga_id,
        "Ship",
        SagaStepAction.ACT,
        SagaStepStatus.STARTED,
        context={"parcel_id": "p-1"},
        current_version=1,
        messages=[message],
    )

    assert storage.outbox is outbox
    assert [(row.message, row.created_at) for row in outbox.rows()] == [(message, clock())]
