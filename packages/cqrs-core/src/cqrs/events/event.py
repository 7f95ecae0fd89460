"""Events: facts that happened, for handlers in this process or in other services.

* `DomainEvent`: handled in-process, right after the request handler returns.
* `NotificationEvent[Payload]`: an integration event for other services, sent
  through a `MessageBroker` or, durably, through the outbox. It carries an id,
  a time zone aware timestamp, a name, a topic and a typed payload.
* `ECSTEvent[Payload]`: an event-carried state transfer, a notification whose
  payload is the whole state of an entity.

Each kind also comes as a dataclass (`DCEvent`, `DCDomainEvent`,
`DCNotificationEvent`) and under python-cqrs's interface and pydantic names
(`IDomainEvent`, `INotificationEvent`, `PydanticEvent`, `PydanticDomainEvent`,
`PydanticNotificationEvent`). Notification events are hashable by `event_id`.

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
)

PayloadT = TypeVar("PayloadT", default=typing.Any)


class IEvent(Serializable):
    """The interface every event implements."""

    __slots__ = ()


class IDomainEvent(IEvent):
    """The interface of in-process events (`DomainEvent`, `DCDomainEvent`)."""

    __slots__ = ()


class INotificationEvent(IEvent, typing.Generic[PayloadT]):
    """The interface of events for other services, published to a broker.

    Implementations have `event_id`, `event_timestamp`, `event_name`, `topic`
    and `payload`.
    """

    __slots__ = ()

    if typing.TYPE_CHECKING:
        event_id: uuid.UUID
        event_timestamp: datetime.datetime
        event_name: str
        topic: str
        payload: PayloadT


class Event(PydanticSerializable, IEvent):
    """Base of the pydantic events; immutable once created."""

    model_config: typing.ClassVar[pydantic.ConfigDict] = pydantic.ConfigDict(frozen=True)


PydanticEvent = Event


class DomainEvent(Event, IDomainEvent):
    """An in-process event, dispatched to `EventHandler`s after the request handler."""


PydanticDomainEvent = DomainEvent


class NotificationEvent(Event, INotificationEvent[PayloadT], typing.Generic[PayloadT]):
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

    if typing.TYPE_CHECKING:
        # pydantic's synthesized signature knows the field names only; `event_topic`
        # is python-cqrs 0.1.3's spelling of `topic`, accepted by the validation alias.
        @typing.overload
        def __init__(
            self,
            *,
            event_name: str,
            payload: PayloadT,
            topic: str = "",
            event_id: uuid.UUID = ...,
            event_timestamp: datetime.datetime = ...,
        ) -> None: ...

        @typing.overload
        def __init__(
            self,
            *,
            event_name: str,
            payload: PayloadT,
            event_topic: str,
            event_id: uuid.UUID = ...,
            event_timestamp: datetime.datetime = ...,
        ) -> None: ...

        def __init__(self, **data: typing.Any) -> None: ...

    @pydantic.field_validator("event_timestamp")
    @classmethod
    def _assume_utc(cls, value: datetime.datetime) -> datetime.datetime:
        return _aware(value)

    def __hash__(self) -> int:
        return hash(self.event_id)


PydanticNotificationEvent = NotificationEvent


class ECSTEvent(NotificationEvent[PayloadT], typing.Generic[PayloadT]):
    """An event-carried state transfer: the payload is the entity's whole state."""

    if typing.TYPE_CHECKING:  # the signature above, which pydantic would synthesize anew
        __init__ = NotificationEvent.__init__


@dataclasses.dataclass(frozen=True)
class DCEvent(DataclassSerializable, IEvent):
    """An event declared as a dataclass (subclasses add `@dataclasses.dataclass`).

    `from_dict` rebuilds nested dataclasses, UUIDs, datetimes and lists.
    """


@dataclasses.dataclass(frozen=True)
class DCDomainEvent(DCEvent, IDomainEvent):
    """A domain event declared as a dataclass (subclasses add `@dataclasses.dataclass`)."""


@dataclasses.dataclass(frozen=True)
class DCNotificationEvent(DCEvent, INotificationEvent[PayloadT], typing.Generic[PayloadT]):
    """A notification event declared as a dataclass; its fields are `NotificationEvent`'s.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Paid(DCNotificationEvent[dict]):
    ...     pass
    >>> paid = Paid(event_name="paid", topic="payments", payload={"order_id": "o1"})
    >>> Paid.from_dict(**paid.to_dict()) == paid
    True
    """

    event_name: str
    event_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    event_timestamp: datetime.datetime = dataclasses.field(default_factory=utc_now)
    topic: str = ""
    payload: PayloadT = None  # pyright: ignore[reportAssignmentType]

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_timestamp", _aware(self.event_timestamp))

    def __hash__(self) -> int:
        return hash(self.event_id)

    def __init_subclass__(cls, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        # Set before a subclass's own @dataclass runs, so it keeps this hash instead
        # of generating one over every field (a dict payload is not hashable).
        cls.__hash__ = DCNotificationEvent.__hash__


def _aware(value: datetime.datetime) -> datetime.datetime:
    """`value`, a naive one taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value
