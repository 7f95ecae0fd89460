"""The transactional outbox: events stored with the business data, published later."""

from cqrs.outbox.map import OutboxedEventMap

__all__ = ("OutboxedEventMap",)
