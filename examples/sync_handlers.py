"""Synchronous handlers next to asynchronous ones.

A greenhouse controller sets the target temperature of a zone. The command is
handled by a `SyncRequestHandler` (plain `def handle`, for quick in-memory
logic), the query by an ordinary async `RequestHandler`. The command records a
domain event that two handlers react to: a `SyncEventHandler` appending to an
audit trail and an async `EventHandler` notifying the (fake) climate hardware.
Both kinds get their dependency through the constructor.

Run: `python examples/sync_handlers.py`
"""

from __future__ import annotations

import asyncio
import typing

import di
from di import dependent

import cqrs
from cqrs.events import EventHandler, SyncEventHandler
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import RequestHandler, SyncRequestHandler


class SetZoneTemperatureCommand(cqrs.Request):
    zone: str
    celsius: float


class GetZoneTemperatureQuery(cqrs.Request):
    zone: str


class ZoneTemperature(cqrs.Response):
    zone: str
    celsius: float


class ZoneTemperatureChanged(cqrs.DomainEvent):
    zone: str
    previous: float | None
    current: float


class ClimateControllerProtocol(typing.Protocol):
    def targets(self) -> dict[str, float]: ...

    def audit(self) -> list[str]: ...

    async def push_to_hardware(self, zone: str, celsius: float) -> None: ...


class FakeClimateController:
    """Shared by every handler (one instance for the whole example)."""

    def __init__(self) -> None:
        self._targets: dict[str, float] = {}
        self._audit: list[str] = []
        self.hardware_log: list[tuple[str, float]] = []

    def targets(self) -> dict[str, float]:
        return self._targets

    def audit(self) -> list[str]:
        return self._audit

    async def push_to_hardware(self, zone: str, celsius: float) -> None:
        await asyncio.sleep(0)  # pretend to talk to a device
        self.hardware_log.append((zone, celsius))


controller = FakeClimateController()


def current_controller() -> FakeClimateController:
    return controller


class SetZoneTemperatureHandler(SyncRequestHandler[SetZoneTemperatureCommand, None]):
    def __init__(self, controller: ClimateControllerProtocol) -> None:
        self._controller = controller
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events

    def handle(self, request: SetZoneTemperatureCommand) -> None:
        targets = self._controller.targets()
        previous = targets.get(request.zone)
        targets[request.zone] = request.celsius
        self._events.append(
            ZoneTemperatureChanged(zone=request.zone, previous=previous, current=request.celsius)
        )


class GetZoneTemperatureHandler(RequestHandler[GetZoneTemperatureQuery, ZoneTemperature]):
    def __init__(self, controller: ClimateControllerProtocol) -> None:
        self._controller = controller

    async def handle(self, request: GetZoneTemperatureQuery) -> ZoneTemperature:
        return ZoneTemperature(zone=request.zone, celsius=self._controller.targets()[request.zone])


class AuditTemperatureChange(SyncEventHandler[ZoneTemperatureChanged]):
    def __init__(self, controller: ClimateControllerProtocol) -> None:
        self._controller = controller

    def handle(self, event: ZoneTemperatureChanged) -> None:
        self._controller.audit().append(f"{event.zone}: {event.previous} -> {event.current}")


class PushTemperatureToHardware(EventHandler[ZoneTemperatureChanged]):
    def __init__(self, controller: ClimateControllerProtocol) -> None:
        self._controller = controller

    async def handle(self, event: ZoneTemperatureChanged) -> None:
        await self._controller.push_to_hardware(event.zone, event.current)


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(current_controller, scope="request"), ClimateControllerProtocol
        )
    )
    return container


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(SetZoneTemperatureCommand, SetZoneTemperatureHandler)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(GetZoneTemperatureQuery, GetZoneTemperatureHandler)


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(ZoneTemperatureChanged, AuditTemperatureChange)
    mapper.bind(ZoneTemperatureChanged, PushTemperatureToHardware)


async def main() -> FakeClimateController:
    global controller
    controller = FakeClimateController()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=commands_mapper,
        queries_mapper=queries_mapper,
        domain_events_mapper=events_mapper,
    )

    await mediator.send(SetZoneTemperatureCommand(zone="orchids", celsius=24.5))
    await mediator.send(SetZoneTemperatureCommand(zone="orchids", celsius=22.0))
    current = await mediator.send(GetZoneTemperatureQuery(zone="orchids"))

    print(f"orchids at {current.celsius} C; audit={controller.audit()}")
    print(f"hardware received {controller.hardware_log}")
    return controller


if __name__ == "__main__":
    asyncio.run(main())
