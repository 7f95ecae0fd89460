"""Turn a broker record's JSON into an event (`cqrs.deserializers`, python-cqrs's path).

`JsonDeserializer(EventClass)` is a callable for a consumer's
`value_deserializer`: it returns the event, `None` for no data, or a
`DeserializeJsonError` describing what could not be read (it never raises,
so one bad record cannot stop a consumer).

>>> import pydantic
>>> from cqrs.events.event import NotificationEvent
>>> class Joined(pydantic.BaseModel):
...     user_id: str
>>> read = JsonDeserializer(NotificationEvent[Joined])
>>> read(b'{"event_name": "joined", "payload": {"user_id": "u1"}}').payload.user_id
'u1'
>>> type(read(b"not json")).__name__
'DeserializeJsonError'
"""

from cqrs.deserializers.json import DeserializeJsonError, JsonDeserializer

__all__ = ("JsonDeserializer", "DeserializeJsonError")
