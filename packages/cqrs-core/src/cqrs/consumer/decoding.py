"""Turn a consumed record back into the `NotificationEvent` it carries.

A record's value is the event's wire dict as JSON (what the broker adapters,
such as cqrs-kafka's `KafkaMessageBroker`, write); its `event_name` picks the
class to validate it with. The classes come from `EventDecoder`'s `events`,
else from `OutboxedEventMap`, where services register the events they
publish. Anything that cannot become an event raises `UndecodableRecordError`,
a `PermanentError`: the consumer dead-letters it at once.

>>> import pydantic
>>> from cqrs.events.event import NotificationEvent
>>> class Joined(pydantic.BaseModel):
...     user_id: str
>>> decoder = EventDecoder({"doc_joined": NotificationEvent[Joined]})
>>> event = NotificationEvent[Joined](
...     event_name="doc_joined", topic="users", payload=Joined(user_id="u1")
... )
>>> decoded = decoder.decode(json.dumps(event.to_dict()).encode(), headers={})
>>> decoded.event == event, decoded.message_id == event.event_id
(True, True)
>>> decoder.decode(b'{"event_name": "doc_left"}', headers={})
Traceback (most recent call last):
    ...
cqrs.exceptions.UndecodableRecordError: no event type is known for event_name 'doc_left'; ...
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import typing
import uuid

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError, UndecodableRecordError
from cqrs.message_brokers.protocol import MESSAGE_ID_HEADER
from cqrs.outbox.map import OutboxedEventMap

__all__ = (
    "DecodedRecord",
    "EventDecoder",
    "EventTypes",
    "UndecodableRecordError",
    "event_names",
)

#: The events a consumer decodes: notification events of any payload.
AnyEvent = NotificationEvent[typing.Any]

#: What `EventDecoder` takes: event name -> class, or classes whose name it finds.
EventTypes = collections.abc.Mapping[str, type[AnyEvent]] | collections.abc.Iterable[type[AnyEvent]]


def event_names(event_type: type[AnyEvent]) -> tuple[str, ...]:
    """The names `event_type` is decoded for: its `event_name` default if it declares
    one, else the names it is registered under in `OutboxedEventMap`.

    Raises `ConfigurationError` when it has neither.
    """
    _check_event_type(event_type)
    field = event_type.model_fields.get("event_name")
    default = None if field is None else field.default
    if isinstance(default, str) and default:
        return (default,)
    registered = tuple(
        name for name in OutboxedEventMap.names() if OutboxedEventMap.get(name) is event_type
    )
    if not registered:
        raise ConfigurationError(
            f"{event_type.__qualname__} has no event name: give it one with "
            f"events={{'name': {event_type.__qualname__}}}, an `event_name` default, or "
            f"OutboxedEventMap.register('name', {event_type.__qualname__})."
        )
    return registered


def _check_event_type(event_type: object) -> None:
    if not (isinstance(event_type, type) and issubclass(event_type, NotificationEvent)):
        raise ConfigurationError(f"events= takes NotificationEvent classes, got {event_type!r}.")


def _message_id(
    headers: collections.abc.Mapping[str, str],
    fields: collections.abc.Mapping[str, typing.Any],
    event: AnyEvent,
) -> uuid.UUID:
    header = headers.get(MESSAGE_ID_HEADER)
    if header is not None:
        try:
            return uuid.UUID(header)
        except ValueError:
            raise UndecodableRecordError(
                f"the {MESSAGE_ID_HEADER} header {header!r} is not a UUID."
            ) from None
    # The event's own default would be a new id on every delivery: no inbox could
    # recognise the record again.
    if "event_id" not in fields:
        raise UndecodableRecordError(
            f"the record has no message id: neither a {MESSAGE_ID_HEADER} header nor an "
            f"event_id in its value."
        )
    return event.event_id


@dataclasses.dataclass(frozen=True)
class DecodedRecord:
    """A record's event, and the id the inbox records for it: the `message_id`
    header, else the value's `event_id`."""

    event: AnyEvent
    message_id: uuid.UUID


class EventDecoder:
    """Decodes record values into events, choosing the class by `event_name`.

    `events` is a mapping of name to class, or classes named by `event_names`;
    a name found in neither is looked up in `OutboxedEventMap` when a record
    carries it, so registrations made after the decoder was built count too.
    """

    def __init__(self, events: EventTypes = ()) -> None:
        if isinstance(events, collections.abc.Mapping):
            named = dict(typing.cast("collections.abc.Mapping[str, type[AnyEvent]]", events))
            for event_type in named.values():
                _check_event_type(event_type)
        else:
            named = {name: event_type for event_type in events for name in event_names(event_type)}
        self._types: dict[str, type[AnyEvent]] = named

    def event_type(self, name: str) -> type[AnyEvent]:
        """The class of events named `name`; `UndecodableRecordError` if there is none."""
        event_type = self._types.get(name) or OutboxedEventMap.get(name)
        if event_type is None:
            raise UndecodableRecordError(
                f"no event type is known for event_name {name!r}; pass its class in the "
                f"consumer's events= or register it with OutboxedEventMap.register."
            )
        if not issubclass(event_type, NotificationEvent):
            raise UndecodableRecordError(
                f"{name!r} is registered for {event_type.__qualname__}, which is not a "
                f"NotificationEvent; a consumer decodes notification events only."
            )
        return typing.cast("type[AnyEvent]", event_type)

    def decode(
        self, value: bytes | None, headers: collections.abc.Mapping[str, str]
    ) -> DecodedRecord:
        """The event a record (its value and text headers) carries, and its message id;
        `UndecodableRecordError` if it carries none."""
        fields = _wire_fields(value)
        name = fields.get("event_name")
        if not isinstance(name, str):
            raise UndecodableRecordError("the record value has no event_name string.")
        event_type = self.event_type(name)
        try:
            event = event_type.from_dict(**fields)
        # Not only ValidationError: a validator may raise anything, and a record that
        # fails to decode must reach the dead-letter topic, not be read for ever.
        except Exception as exc:
            raise UndecodableRecordError(
                f"the record value is not a valid {event_type.__qualname__}: {exc}"
            ) from exc
        return DecodedRecord(event, _message_id(headers, fields, event))


def _wire_fields(value: bytes | None) -> dict[str, typing.Any]:
    try:
        wire = json.loads(value or b"")
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise UndecodableRecordError(f"the record value is not JSON: {exc}") from exc
    if not isinstance(wire, dict):
        raise UndecodableRecordError(
            f"the record value is JSON {type(wire).__name__}, not an event object."
        )
    return typing.cast("dict[str, typing.Any]", wire)
