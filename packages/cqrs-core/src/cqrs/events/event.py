"""Events: facts that happened, for handlers in this process or in other services.

* `DomainEvent`: handled in-process, right after the request handler returns.
* `NotificationEvent[Payload]`: an integration event for other services, sent
  through a `MessageBroker` or, durably, through the outbox. It carries an id,
  a time zone aware timestamp, a name, a topic and a typed payload.
* `ECSTEvent[Payload]`: an event-carried state transfer, a notification whose
  payload is the whole state of an entity.

All events have one wire format: snake_case keys, UUIDs as dashed strings,
timestamps ISO-8601 with a time zone, and `from_dict(**e.to_dict()) == e`.

>>> import pydantic
>>> class Joined(pydantic.BaseModel):
...     user_id: str
>>> event = NotificationEvent[Joined](
...     event_name="joined", topic="users", payload=Joined(user_id="u1")
... )
>>> NotificationEvent[Joined].from_dict(**event.to_dict()) == event
True
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

import pydantic
from typing_extensions import TypeVar

from cqrs._message import DataclassSerializable, PydanticSerializable, Serializable
from cqrs.clock import utc_now

__all__ = (
    "IEvent",
    "Event",
    "DomainEvent",
    "DCDomainEvent",
    "NotificationEvent",
    "ECSTEvent",
)

PayloadT = TypeVar("PayloadT", default=typing.Any)


class IEvent(Serializable):
    """The interface every event implements."""

    __slots__ = ()


class Event(PydanticSerializable, IEvent):
    """Base of the pydantic events; immutable once created."""

    model_config = pydantic.ConfigDict(frozen=True)


class DomainEvent(Event):
    """An in-process event, dispatched to `EventHandler`s after the request handler."""


@dataclasses.dataclass(frozen=True)
class DCDomainEvent(DataclassSerializable, IEvent):
    """A domain event declared as a dataclass (subclasses add `@dataclasses.dataclass`)."""


class NotificationEvent(Event, typing.Generic[PayloadT]):
    """An integration event for other services, with a typed payload.

    `event_id` identifies the event for deduplication (inbox) and is kept
    across retries; `event_timestamp` is always time zone aware (a naive value
    is taken as UTC).
    """

    event_id: uuid.UUID = pydantic.Field(default_factory=uuid.uuid4)
    event_timestamp: datetime.datetime = pydantic.Field(default_factory=utc_now)
    event_name: str
    topic: str = pydantic.Field(
        default="", validation_alias=pydantic.AliasChoices("topic", "event_topic")
    )
    payload: PayloadT

    @pydantic.field_validator("event_timestamp")
    @classmethod
    def _assume_utc(cls, value: datetime.datetime) -> datetime.datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value


class ECSTEvent(NotificationEvent[PayloadT], typing.Generic[PayloadT]):
    """An event-carried state transfer: the payload is the entity's whole state."""
