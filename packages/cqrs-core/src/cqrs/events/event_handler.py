"""Event handlers: react to domain events or to integration events from a broker.

>>> from cqrs.events.event import DomainEvent
>>> class UserJoined(DomainEvent):
...     user_id: str
>>> class SendWelcome(EventHandler[UserJoined]):
...     async def handle(self, event: UserJoined) -> None:
...         pass
"""

from __future__ import annotations

import abc
import typing

from typing_extensions import TypeVar

from cqrs.events.event import IEvent

__all__ = ("EventHandler", "SyncEventHandler", "EventT")

EventT = TypeVar("EventT", bound=IEvent, contravariant=True)


class EventHandler(abc.ABC, typing.Generic[EventT]):
    """Handles one event type; several handlers may handle the same type."""

    @abc.abstractmethod
    async def handle(self, event: EventT) -> None:
        """React to `event`."""


class SyncEventHandler(abc.ABC, typing.Generic[EventT]):
    """An event handler whose `handle` is a plain function run on the event loop."""

    @abc.abstractmethod
    def handle(self, event: EventT) -> None:
        """React to `event`."""
