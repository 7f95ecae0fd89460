"""The transactional outbox: events stored with the business data, published later."""

from cqrs.outbox.map import OutboxedEventMap
from cqrs.outbox.memory import MemoryOutbox, MemoryOutboxSession
from cqrs.outbox.models import EventStatus, OutboxedEvent, OutboxStatus
from cqrs.outbox.producer import EventProducer, ProducerRepository
from cqrs.outbox.relay import (
    OutboxClaim,
    OutboxRelay,
    OutboxStore,
    RetainingOutboxStore,
    RetryPolicy,
)
from cqrs.outbox.repository import (
    DEFAULT_MAX_MESSAGE_BYTES,
    OutboxedEventRepository,
    UnregisteredEventError,
)

__all__ = (
    "OutboxedEventMap",
    "OutboxedEventRepository",
    "OutboxedEvent",
    "OutboxStatus",
    "EventStatus",
    "MemoryOutbox",
    "MemoryOutboxSession",
    "UnregisteredEventError",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "OutboxRelay",
    "OutboxStore",
    "RetainingOutboxStore",
    "OutboxClaim",
    "RetryPolicy",
    "EventProducer",
    "ProducerRepository",
)
