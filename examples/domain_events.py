"""Domain events: in-process reactions to what a command did.

A community garden plants seedlings in raised beds. The command handler
changes its own state (the bed plan) and records `cqrs.DomainEvent`s in its
`events` list; after `handle` returns, the mediator dispatches them to every
`cqrs.EventHandler` bound in the `domain_events_mapper`, here with up to four
handlers running at once (`max_concurrent_event_handlers=4`). An event type
can have several handlers (projection + watering schedule) or none at all.

These events stay inside the process: they are not a contract with other
services (see event_producing.py for notification events).

Run: `python examples/domain_events.py`
"""

from __future__ import annotations

import asyncio
import collections

import di

import cqrs
from cqrs.requests import bootstrap

BED_PLAN: dict[str, list[str]] = collections.defaultdict(list)
SPECIES_COUNT: collections.Counter[str] = collections.Counter()
WATERING_SCHEDULE: list[str] = []


class PlantSeedlingsCommand(cqrs.Request):
    bed_id: str
    species: str
    quantity: int


class PlantingConfirmed(cqrs.Response):
    bed_id: str
    occupied: int


class SeedlingPlanted(cqrs.DomainEvent):
    bed_id: str
    species: str


class BedFilled(cqrs.DomainEvent):
    """Recorded when a bed reaches capacity; nobody listens to it (yet)."""

    bed_id: str


BED_CAPACITY = 6


class PlantSeedlingsHandler(cqrs.RequestHandler[PlantSeedlingsCommand, PlantingConfirmed]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: PlantSeedlingsCommand) -> PlantingConfirmed:
        bed = BED_PLAN[request.bed_id]
        for _ in range(request.quantity):
            if len(bed) == BED_CAPACITY:
                break
            bed.append(request.species)
            self._events.append(SeedlingPlanted(bed_id=request.bed_id, species=request.species))
        if len(bed) == BED_CAPACITY:
            self._events.append(BedFilled(bed_id=request.bed_id))
        return PlantingConfirmed(bed_id=request.bed_id, occupied=len(bed))


class CountSpeciesProjection(cqrs.EventHandler[SeedlingPlanted]):
    async def handle(self, event: SeedlingPlanted) -> None:
        SPECIES_COUNT[event.species] += 1


class ScheduleFirstWatering(cqrs.EventHandler[SeedlingPlanted]):
    async def handle(self, event: SeedlingPlanted) -> None:
        slot = f"{event.bed_id}:{event.species}"
        if slot not in WATERING_SCHEDULE:
            WATERING_SCHEDULE.append(slot)


def events_mapper(m: cqrs.EventMap) -> None:
    m.bind(SeedlingPlanted, CountSpeciesProjection)
    m.bind(SeedlingPlanted, ScheduleFirstWatering)


async def main() -> list[PlantingConfirmed]:
    BED_PLAN.clear()
    SPECIES_COUNT.clear()
    WATERING_SCHEDULE.clear()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(PlantSeedlingsCommand, PlantSeedlingsHandler),
        domain_events_mapper=events_mapper,
        max_concurrent_event_handlers=4,
    )

    confirmations = [
        await mediator.send(PlantSeedlingsCommand(bed_id="north", species="basil", quantity=2)),
        await mediator.send(PlantSeedlingsCommand(bed_id="north", species="tomato", quantity=3)),
        await mediator.send(PlantSeedlingsCommand(bed_id="north", species="chard", quantity=4)),
    ]

    print(f"beds={dict(BED_PLAN)}")
    print(f"species={dict(SPECIES_COUNT)} watering={WATERING_SCHEDULE}")
    return confirmations


if __name__ == "__main__":
    asyncio.run(main())
