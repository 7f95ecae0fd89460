"""Event handlers: react to domain events or to integration events from a broker.

A handler may record follow-up events in `events`, as request handlers do;
they are dispatched after it returns, breadth first (all the events of one
level before any of the next).

>>> from cqrs.events.event import DomainEvent
>>> class UserJoined(DomainEvent):
...     user_id: str
>>> class WelcomeSent(DomainEvent):
...     user_id: str
>>> class SendWelcome(EventHandler[UserJoined]):
...     def __init__(self) -> None:
...         self._events: list[DomainEvent] = []
...     @property
...     def events(self) -> list[DomainEvent]:
...         return self._events
...     async def handle(self, event: UserJoined) -> None:
...         self._events.append(WelcomeSent(user_id=event.user_id))
"""

from __future__ import annotations

import abc
import typing

from typing_extensions import TypeVar

from cqrs.events.event import IEvent

__all__ = ("EventHandler", "SyncEventHandler", "EventSource", "EventT")

EventT = TypeVar("EventT", bound=IEvent, contravariant=True)

_NO_EVENTS: typing.Final[typing.Sequence[IEvent]] = ()


class EventSource:
    """The `events` a handler exposes; none unless a subclass overrides it."""

    @property
    def events(self) -> typing.Sequence[IEvent]:
        """Events recorded by the last `handle`, dispatched by the mediator."""
        return _NO_EVENTS


class EventHandler(EventSource, abc.ABC, typing.Generic[EventT]):
    """Handles one event type; several handlers may handle the same type."""

    @abc.abstractmethod
    async def handle(self, event: EventT) -> None:
        """React to `event`."""


class SyncEventHandler(EventSource, abc.ABC, typing.Generic[EventT]):
    """An event handler whose `handle` is a plain function run on the event loop."""

    @abc.abstractmethod
    def handle(self, event: EventT) -> None:
        """React to `event`."""
