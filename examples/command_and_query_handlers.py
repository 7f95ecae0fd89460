"""Command and query handlers with an injected port, and mapper functions.

A workshop platform enrols attendees (command) and hands out the join link of a
workshop (query). Both handlers subclass
`cqrs.requests.request_handler.RequestHandler`, receive a `WorkshopAPIProtocol`
in `__init__` (bound to an implementation in a `di.Container`), and expose the
events they recorded through an `events` property. The command records a
domain event, which a read-model handler turns into a headcount.

Bindings live in mapper functions typed with the `cqrs.requests.RequestMap` /
`cqrs.events.EventMap` registries (`from cqrs import requests, events`),
passed to bootstrap as `commands_mapper`, `queries_mapper` and
`domain_events_mapper`.

Run: `python examples/command_and_query_handlers.py`
"""

from __future__ import annotations

import asyncio
import collections
import typing

import di
from di import dependent

import cqrs
from cqrs import events, requests
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import RequestHandler

# Storage behind the fake workshop API, and the read model the events build.
ROSTER: dict[int, list[str]] = collections.defaultdict(list)
HEADCOUNT: collections.Counter[int] = collections.Counter()


# --- contracts --------------------------------------------------------------


class EnrolAttendeeCommand(cqrs.Request):
    workshop_id: int
    attendee_id: str


class GetWorkshopLinkQuery(cqrs.Request):
    workshop_id: int


class WorkshopLinkResult(cqrs.Response):
    workshop_id: int
    link: str


class AttendeeEnrolled(cqrs.DomainEvent):
    workshop_id: int
    attendee_id: str


# --- the port and its implementation ----------------------------------------


class WorkshopAPIProtocol(typing.Protocol):
    async def enrol(self, attendee_id: str, workshop_id: int) -> None: ...

    async def get_link(self, workshop_id: int) -> str: ...


class InMemoryWorkshopAPI:
    async def enrol(self, attendee_id: str, workshop_id: int) -> None:
        ROSTER[workshop_id].append(attendee_id)

    async def get_link(self, workshop_id: int) -> str:
        return f"https://workshops.example.org/live/{workshop_id}"


# --- handlers ---------------------------------------------------------------


class EnrolAttendeeCommandHandler(RequestHandler[EnrolAttendeeCommand, None]):
    def __init__(self, workshop_api: WorkshopAPIProtocol) -> None:
        self._workshop_api = workshop_api
        self._events: list[Event] = []

    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006 - the documented spelling
        return self._events

    async def handle(self, request: EnrolAttendeeCommand) -> None:
        await self._workshop_api.enrol(request.attendee_id, request.workshop_id)
        self._events.append(
            AttendeeEnrolled(workshop_id=request.workshop_id, attendee_id=request.attendee_id)
        )


class GetWorkshopLinkQueryHandler(RequestHandler[GetWorkshopLinkQuery, WorkshopLinkResult]):
    def __init__(self, workshop_api: WorkshopAPIProtocol) -> None:
        self._workshop_api = workshop_api
        self._events: list[Event] = []

    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006 - the documented spelling
        return self._events

    async def handle(self, request: GetWorkshopLinkQuery) -> WorkshopLinkResult:
        link = await self._workshop_api.get_link(request.workshop_id)
        return WorkshopLinkResult(workshop_id=request.workshop_id, link=link)


class CountAttendeesHandler(cqrs.EventHandler[AttendeeEnrolled]):
    async def handle(self, event: AttendeeEnrolled) -> None:
        HEADCOUNT[event.workshop_id] += 1


# --- wiring -----------------------------------------------------------------


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(InMemoryWorkshopAPI, scope="request"), WorkshopAPIProtocol
        )
    )
    return container


def init_commands(mapper: requests.RequestMap) -> None:
    mapper.bind(EnrolAttendeeCommand, EnrolAttendeeCommandHandler)


def init_queries(mapper: requests.RequestMap) -> None:
    mapper.bind(GetWorkshopLinkQuery, GetWorkshopLinkQueryHandler)


def init_events(mapper: events.EventMap) -> None:
    mapper.bind(AttendeeEnrolled, CountAttendeesHandler)


async def main() -> WorkshopLinkResult:
    ROSTER.clear()
    HEADCOUNT.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=init_commands,
        queries_mapper=init_queries,
        domain_events_mapper=init_events,
    )

    for attendee in ("ines", "kwame", "lin"):
        await mediator.send(EnrolAttendeeCommand(workshop_id=7, attendee_id=attendee))
    result = await mediator.send(GetWorkshopLinkQuery(workshop_id=7))

    print(f"roster={dict(ROSTER)} headcount={dict(HEADCOUNT)} link={result.link}")
    return result


if __name__ == "__main__":
    asyncio.run(main())
