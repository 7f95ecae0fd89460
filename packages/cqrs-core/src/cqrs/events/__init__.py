"""Events, their handlers, map, emitter, mediator and bootstrap."""

from cqrs.events.emitter import EventEmitter
from cqrs.events.event import (
    DCDomainEvent,
    DCEvent,
    DCNotificationEvent,
    DomainEvent,
    ECSTEvent,
    Event,
    IDomainEvent,
    IEvent,
    INotificationEvent,
    NotificationEvent,
    PydanticDomainEvent,
    PydanticEvent,
    PydanticNotificationEvent,
)
from cqrs.events.event_handler import EventHandler, SyncEventHandler
from cqrs.events.fallback import EventHandlerFallback
from cqrs.events.map import EventMap
from cqrs.events.mediator import EventMediator

__all__ = (
    "IEvent",
    "IDomainEvent",
    "INotificationEvent",
    "Event",
    "PydanticEvent",
    "DomainEvent",
    "PydanticDomainEvent",
    "NotificationEvent",
    "PydanticNotificationEvent",
    "ECSTEvent",
    "DCEvent",
    "DCDomainEvent",
    "DCNotificationEvent",
    "EventHandler",
    "SyncEventHandler",
    "EventHandlerFallback",
    "EventMap",
    "EventEmitter",
    "EventMediator",
)
