"""Test support: in-memory ports, a fake clock, a saga harness and storage contracts.

`cqrs.testing.saga_storage` holds the contract suite every saga storage must
pass, and `cqrs.testing.consumer` the one every consumer transport (broker
adapter) must pass; they need pytest and pytest-asyncio, so each is imported
on its own.
"""

from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.brokers import BatchingBroker
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox import registered_outbox_events
from cqrs.testing.saga import HarnessError, InjectedFailure, SagaOutcome, SagaTestHarness

__all__ = (
    "BatchingBroker",
    "FakeClock",
    "MemoryOutbox",
    "MemorySagaStorage",
    "SagaTestHarness",
    "SagaOutcome",
    "InjectedFailure",
    "HarnessError",
    "registered_outbox_events",
)
