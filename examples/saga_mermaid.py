"""Draw a saga as Mermaid diagrams.

A trip booking saga reserves a flight, books a hotel and charges the
traveller's card. The hotel chain's API is flaky, so that step has a
`Fallback`: when it raises `ConnectionError` or `TimeoutError`, or its
circuit breaker is open, the booking goes through a partner agency instead.
If a step fails, the steps that completed are compensated newest first.

`SagaMermaid` (from `cqrs.saga.mermaid`) turns the saga class into a sequence
diagram (the `act` calls in order, the fallback, the compensation) and a
class diagram (the saga, its context, the steps and their responses).

The output is Markdown: paste it into a README or a pull request, or into
https://mermaid.live, to see the diagrams.

Run: `python examples/saga_mermaid.py`
"""

from __future__ import annotations

import dataclasses

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.saga.fallback import Fallback
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult

# Stand-ins for the airline, the hotel chain, the partner agency and the bank.
FLIGHT_SEATS: dict[str, str] = {}
HOTEL_ROOMS: dict[str, str] = {}
PARTNER_ROOMS: dict[str, str] = {}
CHARGES: dict[str, int] = {}


@dataclasses.dataclass
class TripContext(SagaContext):
    trip_id: str
    traveller: str
    price_cents: int
    seat: str | None = None
    hotel_booking: str | None = None
    payment_id: str | None = None


@dataclasses.dataclass
class FlightReservation(cqrs.DCResponse):
    seat: str


@dataclasses.dataclass
class HotelBooking(cqrs.DCResponse):
    booking_id: str
    via_partner: bool


@dataclasses.dataclass
class PaymentReceipt(cqrs.DCResponse):
    payment_id: str
    amount_cents: int


class ReserveFlight(SagaStepHandler[TripContext, FlightReservation]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, FlightReservation]:
        context.seat = FLIGHT_SEATS.setdefault(context.trip_id, "12A")
        return self._generate_step_result(FlightReservation(context.seat))

    async def compensate(self, context: TripContext) -> None:
        FLIGHT_SEATS.pop(context.trip_id, None)


class BookHotel(SagaStepHandler[TripContext, HotelBooking]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, HotelBooking]:
        context.hotel_booking = HOTEL_ROOMS.setdefault(context.trip_id, f"H-{context.trip_id}")
        return self._generate_step_result(HotelBooking(context.hotel_booking, via_partner=False))

    async def compensate(self, context: TripContext) -> None:
        HOTEL_ROOMS.pop(context.trip_id, None)


class BookHotelViaPartner(SagaStepHandler[TripContext, HotelBooking]):
    """Books through a partner agency when the hotel chain cannot be reached."""

    async def act(self, context: TripContext) -> SagaStepResult[TripContext, HotelBooking]:
        context.hotel_booking = PARTNER_ROOMS.setdefault(context.trip_id, f"P-{context.trip_id}")
        return self._generate_step_result(HotelBooking(context.hotel_booking, via_partner=True))

    async def compensate(self, context: TripContext) -> None:
        PARTNER_ROOMS.pop(context.trip_id, None)


class ChargeCard(SagaStepHandler[TripContext, PaymentReceipt]):
    async def act(self, context: TripContext) -> SagaStepResult[TripContext, PaymentReceipt]:
        context.payment_id = f"pay-{context.trip_id}"
        CHARGES[context.payment_id] = context.price_cents
        return self._generate_step_result(PaymentReceipt(context.payment_id, context.price_cents))

    async def compensate(self, context: TripContext) -> None:
        if context.payment_id is not None:
            CHARGES.pop(context.payment_id, None)


class TripBookingSaga(Saga[TripContext]):
    steps = [
        ReserveFlight,
        Fallback(
            step=BookHotel,
            fallback=BookHotelViaPartner,
            circuit_breaker=AioBreakerAdapter(fail_max=3, timeout_duration=60),
            failure_exceptions=(ConnectionError, TimeoutError),
        ),
        ChargeCard,
    ]


def main() -> tuple[str, str]:
    diagrams = SagaMermaid(TripBookingSaga)
    sequence, class_diagram = diagrams.sequence(), diagrams.class_diagram()
    print("## How TripBookingSaga runs its steps\n")
    print(f"```mermaid\n{sequence}\n```\n")
    print("## The saga, its context, steps and responses\n")
    print(f"```mermaid\n{class_diagram}\n```")
    return sequence, class_diagram


if __name__ == "__main__":
    main()
