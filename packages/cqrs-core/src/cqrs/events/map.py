"""`EventMap`: which handlers react to which event type.

An event type may have any number of handlers; binding the same handler to
the same event twice is a mistake and raises.

>>> from cqrs.events.event import DomainEvent
>>> from cqrs.events.event_handler import EventHandler
>>> class Joined(DomainEvent):
...     pass
>>> class Greet(EventHandler[Joined]):
...     async def handle(self, event: Joined) -> None:
...         pass
>>> mapper = EventMap()
>>> mapper.bind(Joined, Greet)
>>> mapper.get(Joined)
(<class 'cqrs.events.map.Greet'>,)
"""

from __future__ import annotations

import typing

from cqrs.events.event_handler import EventHandler, SyncEventHandler
from cqrs.events.fallback import EventHandlerFallback
from cqrs.exceptions import DuplicateBindingError, InvalidBindingError

__all__ = ("EventMap", "EventBinding")

EventBinding = type[typing.Any] | EventHandlerFallback

_NONE: typing.Final[tuple[EventBinding, ...]] = ()


class EventMap:
    """Event type -> handlers, in the order they were bound."""

    def __init__(self) -> None:
        self._bindings: dict[type[typing.Any], tuple[EventBinding, ...]] = {}

    def bind(self, event_type: type[typing.Any], handler: EventBinding) -> None:
        """Add `handler` for `event_type`.

        Raises `InvalidBindingError` for something that is not an
        `EventHandler`/`SyncEventHandler` class or `EventHandlerFallback`, and
        `DuplicateBindingError` if that handler is bound to that event already.
        """
        if not isinstance(event_type, type):
            raise InvalidBindingError(f"bind() takes an event class, got {event_type!r}.")
        valid = isinstance(handler, EventHandlerFallback) or (
            isinstance(handler, type) and issubclass(handler, (EventHandler, SyncEventHandler))
        )
        if not valid:
            raise InvalidBindingError(
                f"{event_type.__qualname__} cannot be bound to {handler!r}: expected an "
                f"EventHandler subclass or an EventHandlerFallback."
            )
        current = self._bindings.get(event_type, _NONE)
        if handler in current:
            raise DuplicateBindingError(
                f"{handler!r} is already bound to {event_type.__qualname__}; it would run twice."
            )
        self._bindings[event_type] = (*current, handler)

    def get(self, event_type: type[typing.Any]) -> tuple[EventBinding, ...]:
        """The handlers of `event_type`; empty when it has none."""
        return self._bindings.get(event_type, _NONE)

    def items(self) -> typing.ItemsView[type[typing.Any], tuple[EventBinding, ...]]:
        """All bindings, in the order they were made."""
        return self._bindings.items()

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._bindings

    def __len__(self) -> int:
        return len(self._bindings)
