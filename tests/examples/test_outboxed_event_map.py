"""examples/outboxed_event_map.py: OutboxedEventMap.register and decoding stored rows."""

import pydantic
import pytest

import cqrs
from examples import outboxed_event_map as example


def test_names_are_registered_at_import() -> None:
    assert (
        cqrs.OutboxedEventMap.get("box_office.ticket_sold")
        is cqrs.NotificationEvent[example.TicketSoldPayload]
    )
    assert (
        cqrs.OutboxedEventMap.get("box_office.concert_sold_out")
        is cqrs.NotificationEvent[example.ConcertSoldOutPayload]
    )
    assert {"box_office.ticket_sold", "box_office.concert_sold_out"} <= set(
        cqrs.OutboxedEventMap.names()
    )


async def test_rows_are_decoded_into_their_registered_types() -> None:
    relayed, _ = await example.main()

    assert [type(e) for e in relayed] == [
        cqrs.NotificationEvent[example.TicketSoldPayload],
        cqrs.NotificationEvent[example.TicketSoldPayload],
        cqrs.NotificationEvent[example.ConcertSoldOutPayload],
    ]
    assert [e.payload for e in relayed] == [
        example.TicketSoldPayload(ticket_id="jazz-night-A1", concert_id="jazz-night", seat="A1"),
        example.TicketSoldPayload(ticket_id="jazz-night-A2", concert_id="jazz-night", seat="A2"),
        example.ConcertSoldOutPayload(concert_id="jazz-night"),
    ]


async def test_relay_publishes_and_empties_the_outbox() -> None:
    relayed, messages = await example.main()

    assert example.OUTBOX_TABLE == []
    assert [m.message_id for m in messages] == [e.event_id for e in relayed]
    assert [m.message_name for m in messages] == [
        "box_office.ticket_sold",
        "box_office.ticket_sold",
        "box_office.concert_sold_out",
    ]


def test_another_type_under_a_taken_name_is_refused() -> None:
    class Other(pydantic.BaseModel):
        x: int

    with pytest.raises(cqrs.DuplicateBindingError):
        cqrs.OutboxedEventMap.register("box_office.ticket_sold", cqrs.NotificationEvent[Other])
    assert (
        cqrs.OutboxedEventMap.get("box_office.ticket_sold")
        is cqrs.NotificationEvent[example.TicketSoldPayload]
    )
