"""The transactional outbox: events stored with the business data, published later."""

from cqrs.outbox.map import OutboxedEventMap
from cqrs.outbox.memory import MemoryOutbox, MemoryOutboxSession
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.repository import OutboxedEventRepository, UnregisteredEventError

__all__ = (
    "OutboxedEventMap",
    "OutboxedEventRepository",
    "OutboxedEvent",
    "OutboxStatus",
    "MemoryOutbox",
    "MemoryOutboxSession",
    "UnregisteredEventError",
)
