"""MemoryOutbox as a repository: an event no broker would take is refused when added."""

from __future__ import annotations

import collections.abc

import pydantic
import pytest

from cqrs.events.event import NotificationEvent
from cqrs.exceptions import EventTooLargeError
from cqrs.message_brokers.protocol import payload_json
from cqrs.outbox import DEFAULT_MAX_MESSAGE_BYTES, MemoryOutbox
from cqrs.testing import registered_outbox_events


class Note(pydantic.BaseModel):
    text: str


Noted = NotificationEvent[Note]


@pytest.fixture(autouse=True)
def _registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({"noted": Noted}):
        yield


def noted(text: str) -> Noted:
    return Noted(event_name="noted", topic="notes", payload=Note(text=text))


def encoded_size(event: Noted, key: str) -> int:
    """What the outbox measures: the payload JSON (as stored and sent) plus the key."""
    return len(payload_json(event.to_dict())) + len(key.encode())


async def test_an_event_above_the_limit_is_refused_and_the_rest_commits() -> None:
    outbox = MemoryOutbox()
    too_big = noted("x" * DEFAULT_MAX_MESSAGE_BYTES)

    async with outbox as session:
        outbox.add(session, noted("before"), key="k")
        with pytest.raises(EventTooLargeError) as raised:
            outbox.add(session, too_big, key="k")
        outbox.add(session, noted("after"), key="k")
        await outbox.commit(session)

    assert [row.message.payload["payload"]["text"] for row in outbox.rows()] == ["before", "after"]
    assert raised.value.event_name == "noted"
    assert raised.value.size == encoded_size(too_big, "k")
    assert raised.value.max_bytes == DEFAULT_MAX_MESSAGE_BYTES
    assert "max_message_bytes" in str(raised.value)


async def test_the_limit_is_configurable_and_inclusive() -> None:
    event = noted("hello")
    limit = encoded_size(event, "key")
    outbox = MemoryOutbox(max_message_bytes=limit)

    async with outbox as session:
        outbox.add(session, event, key="key")
        with pytest.raises(EventTooLargeError):
            outbox.add(session, event, key="key2")  # one byte more, in the key
        await outbox.commit(session)

    assert len(outbox.rows()) == 1
