"""`EventHandlerFallback`: bind an event to a primary handler and a fallback.

>>> from cqrs.events.event import DomainEvent
>>> from cqrs.events.event_handler import EventHandler
>>> class Shipped(DomainEvent):
...     pass
>>> class EmailCustomer(EventHandler[Shipped]):
...     async def handle(self, event: Shipped) -> None:
...         raise ConnectionError
>>> class QueueEmail(EventHandler[Shipped]):
...     async def handle(self, event: Shipped) -> None:
...         pass
>>> binding = EventHandlerFallback(primary=EmailCustomer, fallback=QueueEmail)
"""

from __future__ import annotations

import typing

from cqrs.events.event_handler import EventHandler, SyncEventHandler
from cqrs.fallback import HandlerFallback

__all__ = ("EventHandlerFallback",)


class EventHandlerFallback(HandlerFallback):
    """Runs `fallback` when `primary` raises (one of `failure_exceptions`, if given)
    or when `circuit_breaker` is open. Both must handle the same event type.
    """

    handler_bases: typing.ClassVar[tuple[type[typing.Any], ...]] = (
        EventHandler,
        SyncEventHandler,
    )
