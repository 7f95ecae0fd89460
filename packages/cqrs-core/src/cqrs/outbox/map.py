"""`OutboxedEventMap`: the event types the outbox may store, by wire name.

The outbox keeps events as rows; to turn a row back into an event it needs
the class registered under the row's name. Register each notification type
once at import time.

>>> import pydantic
>>> from cqrs.events.event import NotificationEvent
>>> class Joined(pydantic.BaseModel):
...     user_id: str
>>> OutboxedEventMap.register("doc_joined", NotificationEvent[Joined])
>>> OutboxedEventMap.get("doc_joined") is NotificationEvent[Joined]
True
"""

from __future__ import annotations

import typing

from cqrs.exceptions import DuplicateBindingError, InvalidBindingError

__all__ = ("OutboxedEventMap",)


class OutboxedEventMap:
    """Process-wide registry: event name -> event class."""

    _registry: typing.ClassVar[dict[str, type[typing.Any]]] = {}

    @classmethod
    def register(cls, event_name: str, event_type: type[typing.Any]) -> None:
        """Register `event_type` under `event_name`.

        Registering the same pair again is harmless; another type under a
        taken name raises `DuplicateBindingError`.
        """
        if not event_name or not isinstance(event_type, type):
            raise InvalidBindingError(
                f"register() takes a non-empty name and an event class, got "
                f"{event_name!r} and {event_type!r}."
            )
        current = cls._registry.get(event_name)
        if current is not None and current is not event_type:
            raise DuplicateBindingError(
                f"outbox event name {event_name!r} is already registered for "
                f"{current.__qualname__}; pick another name for {event_type.__qualname__}."
            )
        cls._registry[event_name] = event_type

    @classmethod
    def get(cls, event_name: str) -> type[typing.Any] | None:
        """The class registered under `event_name`, or `None`."""
        return cls._registry.get(event_name)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(cls._registry)
