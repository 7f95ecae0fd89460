"""examples/saga_mermaid.py prints a trip booking saga as two Mermaid diagrams."""

from __future__ import annotations

import re

import pytest

from examples import saga_mermaid as example

STEPS = ["ReserveFlight", "BookHotel", "BookHotelViaPartner", "ChargeCard"]


def mermaid_blocks(output: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", output, flags=re.DOTALL)


def test_prints_a_sequence_and_a_class_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    sequence, class_diagram = example.main()

    assert mermaid_blocks(capsys.readouterr().out) == [sequence, class_diagram]
    assert sequence.startswith("sequenceDiagram\n")
    assert class_diagram.startswith("classDiagram\n")


def test_sequence_acts_in_order_and_compensates_in_reverse() -> None:
    sequence, _ = example.main()

    assert re.findall(r"participant (\w+)", sequence) == ["TripBookingSaga", *STEPS]
    acts = re.findall(r"TripBookingSaga->>(\w+): act\(context\)", sequence)
    assert acts == STEPS
    undone = re.findall(r"TripBookingSaga->>(\w+): compensate\(context\)", sequence)
    assert undone == ["BookHotel", "BookHotelViaPartner", "ReserveFlight"]


def test_sequence_marks_the_hotel_fallback_and_its_breaker() -> None:
    sequence, _ = example.main()

    assert "else BookHotel fails or its circuit breaker is open" in sequence
    assert "BookHotel--xTripBookingSaga: ConnectionError or TimeoutError" in sequence
    assert (
        "Note over BookHotel,BookHotelViaPartner: fallback for BookHotel, "
        "circuit breaker AioBreakerAdapter"
    ) in sequence


def test_class_diagram_shows_context_steps_and_responses() -> None:
    _, class_diagram = example.main()

    for field in ("+trip_id: str", "+price_cents: int", "+hotel_booking: str | None"):
        assert field in class_diagram
    assert re.findall(r"TripBookingSaga --> (\w+) : step (\d)", class_diagram) == [
        ("ReserveFlight", "1"),
        ("BookHotel", "2"),
        ("ChargeCard", "3"),
    ]
    assert "BookHotel --> BookHotelViaPartner : fallback" in class_diagram
    for step in STEPS:
        assert f"{step} ..> TripContext : context" in class_diagram
    assert "ChargeCard ..> PaymentReceipt : returns" in class_diagram


async def test_the_drawn_steps_book_and_undo_a_trip() -> None:
    context = example.TripContext(trip_id="t-1", traveller="Ada", price_cents=45_000)
    steps = [example.ReserveFlight(), example.BookHotelViaPartner(), example.ChargeCard()]

    results = [await step.act(context) for step in steps]
    assert [result.response for result in results] == [
        example.FlightReservation("12A"),
        example.HotelBooking("P-t-1", via_partner=True),
        example.PaymentReceipt("pay-t-1", 45_000),
    ]
    assert example.CHARGES == {"pay-t-1": 45_000}

    for step in reversed(steps):
        await step.compensate(context)
    assert (example.FLIGHT_SEATS, example.PARTNER_ROOMS, example.CHARGES) == ({}, {}, {})
