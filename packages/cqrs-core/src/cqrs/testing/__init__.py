"""Test support: in-memory ports, a fake clock, a saga harness and storage contracts.

The contract suites need pytest and pytest-asyncio, so each is imported on
its own: `cqrs.testing.saga_storage` (every saga storage must pass it),
`cqrs.testing.consumer` (every consumer transport, i.e. broker adapter), and
for the admin ports `cqrs.testing.outbox_admin`, `cqrs.testing.saga_admin`
and `cqrs.testing.dead_letter_admin`.
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
