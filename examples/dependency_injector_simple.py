"""Dependency injection with the dependency-injector library.

A weather station records temperature readings and answers with averages.
Services are declared as providers of a `containers.DeclarativeContainer`
(`Singleton`s for the repository, behind an abstract base class, and the alert
log; a `Factory` for the alert service wired to both); the container is wrapped in
`DependencyInjectorCQRSContainer` and passed to bootstrap as `di_container`.

Handlers need no provider of their own: the adapter builds them from their
constructor annotations, resolving each parameter through the providers (an
abstract type is served by the provider of a subclass).

Run: `python examples/dependency_injector_simple.py`
"""

from __future__ import annotations

import abc
import asyncio
import statistics

from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.requests import bootstrap


class ReadingRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, station: str, celsius: float) -> None: ...

    @abc.abstractmethod
    def all_for(self, station: str) -> list[float]: ...


class InMemoryReadingRepository(ReadingRepository):
    def __init__(self) -> None:
        self._readings: dict[str, list[float]] = {}

    def add(self, station: str, celsius: float) -> None:
        self._readings.setdefault(station, []).append(celsius)

    def all_for(self, station: str) -> list[float]:
        return list(self._readings.get(station, []))


class AlertLog:
    def __init__(self) -> None:
        self.sent: list[str] = []


class FrostAlertService:
    def __init__(self, repository: ReadingRepository, log: AlertLog) -> None:
        self._repository = repository
        self._log = log

    def alert(self, station: str) -> None:
        lows = [r for r in self._repository.all_for(station) if r < 0]
        self._log.sent.append(f"frost at {station}: {len(lows)} sub-zero reading(s)")


class ApplicationContainer(containers.DeclarativeContainer):
    repository = providers.Singleton(InMemoryReadingRepository)
    alert_log = providers.Singleton(AlertLog)
    # A new service per use, wired to the shared singletons.
    alerts = providers.Factory(FrostAlertService, repository=repository, log=alert_log)


# --- messages and handlers ---------------------------------------------------------


class RecordReadingCommand(cqrs.Request):
    station: str
    celsius: float


class AverageTemperatureQuery(cqrs.Request):
    station: str


class AverageTemperature(cqrs.Response):
    station: str
    average: float
    samples: int


class FrostDetected(cqrs.DomainEvent):
    station: str


class RecordReadingHandler(cqrs.RequestHandler[RecordReadingCommand, None]):
    def __init__(self, repository: ReadingRepository) -> None:
        self._repository = repository
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: RecordReadingCommand) -> None:
        self._repository.add(request.station, request.celsius)
        if request.celsius < 0:
            self._events.append(FrostDetected(station=request.station))


class AverageTemperatureHandler(cqrs.RequestHandler[AverageTemperatureQuery, AverageTemperature]):
    def __init__(self, repository: ReadingRepository) -> None:
        self._repository = repository

    async def handle(self, request: AverageTemperatureQuery) -> AverageTemperature:
        readings = self._repository.all_for(request.station)
        return AverageTemperature(
            station=request.station,
            average=round(statistics.fmean(readings), 2),
            samples=len(readings),
        )


class SendFrostAlert(cqrs.EventHandler[FrostDetected]):
    def __init__(self, alerts: FrostAlertService) -> None:
        self._alerts = alerts

    async def handle(self, event: FrostDetected) -> None:
        self._alerts.alert(event.station)


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(RecordReadingCommand, RecordReadingHandler)


def queries_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(AverageTemperatureQuery, AverageTemperatureHandler)


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(FrostDetected, SendFrostAlert)


async def main() -> tuple[AverageTemperature, ApplicationContainer]:
    container = ApplicationContainer()
    cqrs_container = DependencyInjectorCQRSContainer(container)
    mediator = bootstrap.bootstrap(
        di_container=cqrs_container,
        commands_mapper=commands_mapper,
        queries_mapper=queries_mapper,
        domain_events_mapper=events_mapper,
    )

    for celsius in (2.5, -1.0, 0.5, -3.0):
        await mediator.send(RecordReadingCommand(station="alpine-hut", celsius=celsius))
    average = await mediator.send(AverageTemperatureQuery(station="alpine-hut"))

    print(f"average {average.average} C over {average.samples} samples")
    print(f"alerts: {container.alert_log().sent}")
    return average, container


if __name__ == "__main__":
    asyncio.run(main())
