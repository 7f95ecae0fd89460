"""Events, their handlers, map, emitter, mediator and bootstrap."""

from cqrs.events.emitter import EventEmitter
from cqrs.events.event import (
    DCDomainEvent,
    DomainEvent,
    ECSTEvent,
    Event,
    IEvent,
    NotificationEvent,
)
from cqrs.events.event_handler import EventHandler, SyncEventHandler
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventMap
from cqrs.events.mediator import EventMediator

__all__ = (
    "IEvent",
    "Event",
    "DomainEvent",
    "DCDomainEvent",
    "NotificationEvent",
    "ECSTEvent",
    "EventHandler",
    "SyncEventHandler",
    "EventHandlerFallback",
    "EventMap",
    "EventEmitter",
    "EventMediator",
)
