"""Outbox rows: python-cqrs's status names, and the event and topic a row holds."""

from __future__ import annotations

import pydantic
import pytest

import cqrs
from cqrs.outbox.mock import MockOutboxedEventRepository
from cqrs.outbox.models import EventStatus, OutboxStatus


class Weighed(pydantic.BaseModel):
    parcel_id: str
    grams: int


Parcel = cqrs.NotificationEvent[Weighed]
cqrs.OutboxedEventMap.register("models_test_weighed", Parcel)


def test_python_cqrs_status_names_are_aliases() -> None:
    assert EventStatus is OutboxStatus
    assert (EventStatus.NEW, EventStatus.PRODUCED, EventStatus.NOT_PRODUCED) == (
        OutboxStatus.PENDING,
        OutboxStatus.PUBLISHED,
        OutboxStatus.DEAD,
    )
    assert list(OutboxStatus) == [
        OutboxStatus.PENDING,
        OutboxStatus.PUBLISHED,
        OutboxStatus.DEAD,
        OutboxStatus.DISCARDED,
    ]


async def test_a_row_gives_back_its_event_and_topic() -> None:
    outbox = MockOutboxedEventRepository(session_factory=dict)
    event = Parcel(
        event_name="models_test_weighed", topic="parcels", payload=Weighed(parcel_id="p1", grams=5)
    )
    async with outbox as session:
        outbox.add(session, event)
        await outbox.commit(session)

    [row] = outbox.rows()

    assert row.topic == "parcels"
    assert row.event == event


def test_a_row_of_an_unregistered_event_says_to_register_it() -> None:
    message = cqrs.Message(message_name="nobody_registered_this", topic="t", payload={})
    row = cqrs.OutboxedEvent(1, message, created_at=cqrs.clock.utc_now())

    with pytest.raises(cqrs.outbox.UnregisteredEventError, match=r"OutboxedEventMap\.register"):
        _ = row.event
