"""Dependency injection with the `di` library.

A pharmacy dispenses prescriptions. Handlers declare what they need as
constructor parameters typed with protocols; `setup_di()` binds each protocol
to an implementation with
`container.bind(di.bind_by_type(dependent.Dependent(Impl, scope="request"), Protocol))`
and the `di.Container` is handed to bootstrap, which builds every request and
event handler through it. Implementations can have dependencies of their own
(the stock keeper needs a clock), resolved the same way.

Run: `python examples/dependency_injection.py`
"""

from __future__ import annotations

import asyncio
import datetime
import typing

import di
from di import dependent

import cqrs
from cqrs.requests import bootstrap

SHELF: dict[str, int] = {}
PICKUP_NOTICES: list[str] = []
FIXED_NOW = datetime.datetime(2024, 3, 1, 8, 0, tzinfo=datetime.timezone.utc)


# --- ports ---------------------------------------------------------------------


class ClockProtocol(typing.Protocol):
    def now(self) -> datetime.datetime: ...


class StockKeeperProtocol(typing.Protocol):
    def take(self, drug_code: str, units: int) -> datetime.datetime: ...


class NotifierProtocol(typing.Protocol):
    async def notify(self, patient_id: str, text: str) -> None: ...


# --- implementations -------------------------------------------------------------


class FrozenClock:
    def now(self) -> datetime.datetime:
        return FIXED_NOW


class ShelfStockKeeper:
    def __init__(self, clock: ClockProtocol) -> None:
        self._clock = clock

    def take(self, drug_code: str, units: int) -> datetime.datetime:
        available = SHELF.get(drug_code, 0)
        if available < units:
            raise LookupError(f"only {available} units of {drug_code} left")
        SHELF[drug_code] = available - units
        return self._clock.now()


class OutboxNotifier:
    async def notify(self, patient_id: str, text: str) -> None:
        PICKUP_NOTICES.append(f"{patient_id}: {text}")


def setup_di() -> di.Container:
    """Bind implementations to the protocols handlers ask for."""
    container = di.Container()
    container.bind(
        di.bind_by_type(dependent.Dependent(FrozenClock, scope="request"), ClockProtocol)
    )
    container.bind(
        di.bind_by_type(dependent.Dependent(ShelfStockKeeper, scope="request"), StockKeeperProtocol)
    )
    container.bind(
        di.bind_by_type(dependent.Dependent(OutboxNotifier, scope="request"), NotifierProtocol)
    )
    return container


# --- messages and handlers ---------------------------------------------------------


class DispensePrescriptionCommand(cqrs.Request):
    prescription_id: str
    patient_id: str
    drug_code: str
    units: int


class DispensedResponse(cqrs.Response):
    prescription_id: str
    dispensed_at: datetime.datetime
    units_left: int


class PrescriptionDispensed(cqrs.DomainEvent):
    prescription_id: str
    patient_id: str


class DispensePrescriptionHandler(
    cqrs.RequestHandler[DispensePrescriptionCommand, DispensedResponse]
):
    def __init__(self, stock: StockKeeperProtocol) -> None:
        self._stock = stock
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: DispensePrescriptionCommand) -> DispensedResponse:
        dispensed_at = self._stock.take(request.drug_code, request.units)
        self._events.append(
            PrescriptionDispensed(
                prescription_id=request.prescription_id, patient_id=request.patient_id
            )
        )
        return DispensedResponse(
            prescription_id=request.prescription_id,
            dispensed_at=dispensed_at,
            units_left=SHELF[request.drug_code],
        )


class NotifyPatient(cqrs.EventHandler[PrescriptionDispensed]):
    def __init__(self, notifier: NotifierProtocol) -> None:
        self._notifier = notifier

    async def handle(self, event: PrescriptionDispensed) -> None:
        await self._notifier.notify(
            event.patient_id, f"prescription {event.prescription_id} is ready"
        )


async def main() -> DispensedResponse:
    SHELF.clear()
    SHELF["amoxicillin-500"] = 30
    PICKUP_NOTICES.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=lambda m: m.bind(DispensePrescriptionCommand, DispensePrescriptionHandler),
        domain_events_mapper=lambda m: m.bind(PrescriptionDispensed, NotifyPatient),
    )

    result = await mediator.send(
        DispensePrescriptionCommand(
            prescription_id="rx-1001", patient_id="p-42", drug_code="amoxicillin-500", units=21
        )
    )
    when = f"{result.dispensed_at:%H:%M}"
    print(f"{result.prescription_id} dispensed at {when}, {result.units_left} left")
    print(f"notices: {PICKUP_NOTICES}")
    return result


if __name__ == "__main__":
    asyncio.run(main())
