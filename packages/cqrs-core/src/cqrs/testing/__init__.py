"""Test support: in-memory ports, test doubles, a saga harness and contract suites.

The contract suites, one per port, are pytest test classes that an
implementation subclasses to prove itself; each needs pytest and
pytest-asyncio (`pip install 'cqrs-core[testing]'`), so each is imported on
its own:

- `cqrs.testing.inbox.InboxContract`: `InboxRepository`;
- `cqrs.testing.idempotency.IdempotencyContract`: `cqrs.idempotency.IdempotencyStore`;
- `cqrs.testing.outbox_repository.OutboxRepositoryContract`: `OutboxedEventRepository`;
- `cqrs.testing.outbox_store.OutboxStoreContract`: `RetainingOutboxStore`;
- `cqrs.testing.message_broker.MessageBrokerContract` and
  `BatchMessageBrokerContract`: `MessageBroker` and `BatchMessageBroker`;
- `cqrs.testing.saga_storage.SagaStorageContract`: `ISagaStorage`;
- `cqrs.testing.consumer.ConsumerContract`: a consumer transport (a broker adapter);
- `cqrs.testing.outbox_admin.OutboxAdminContract`: `cqrs.admin.OutboxAdmin`;
- `cqrs.testing.saga_admin.SagaAdminContract`: `cqrs.admin.SagaAdminStore`;
- `cqrs.testing.dead_letter_admin.DeadLetterAdminContract`: `cqrs.admin.DeadLetterAdmin`.
"""

from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.brokers import BatchingBroker, FailingBroker
from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox import registered_outbox_events
from cqrs.testing.saga import HarnessError, InjectedFailure, SagaOutcome, SagaTestHarness

__all__ = (
    "BatchingBroker",
    "FakeClock",
    "FailingBroker",
    "MemoryOutbox",
    "MemorySagaStorage",
    "SagaTestHarness",
    "SagaOutcome",
    "InjectedFailure",
    "HarnessError",
    "registered_outbox_events",
)
