"""Bootstrap: cached factories for the request mediator and the event mediator.

A veterinary clinic's service wires everything in two factories, each
decorated with `functools.lru_cache` so the whole process shares one mediator
of each kind:

* `mediator_factory()` calls `cqrs.requests.bootstrap.bootstrap` with every
  option: a DI container from `setup_di()`, separate `commands_mapper` and
  `queries_mapper`, a `domain_events_mapper`, a `message_broker` for
  notification events, `middlewares`, `on_startup` hooks and the two
  concurrency options;
* `event_mediator_factory()` calls `cqrs.events.bootstrap.bootstrap` with the
  container, an `events_mapper` for events consumed from the broker, the same
  startup hook, middlewares and concurrency options.

The startup hook registers the clinic's outgoing event types in
`cqrs.OutboxedEventMap`; the example then feeds what the request side
published back into the event side, decoding each message with that map.

Run: `python examples/bootstrap_factories.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import typing

import di
import pydantic
from di import dependent

import cqrs
from cqrs import events, requests
from cqrs.events import bootstrap as event_bootstrap
from cqrs.message_brokers import memory
from cqrs.requests import bootstrap as request_bootstrap

BROKER = memory.InMemoryMessageBroker()
STARTUP_CALLS: list[str] = []
HANDLED_MESSAGES: list[str] = []
APPOINTMENTS: dict[str, AppointmentView] = {}
REMINDERS_SCHEDULED: list[str] = []


# --- messages ----------------------------------------------------------------


class BookAppointmentCommand(cqrs.Request):
    pet_name: str
    owner_email: str
    starts_at: datetime.datetime


class AppointmentBookedResponse(cqrs.Response):
    appointment_id: str


class ListAppointmentsQuery(cqrs.Request):
    owner_email: str


class AppointmentView(cqrs.Response):
    appointment_id: str
    pet_name: str
    owner_email: str
    starts_at: datetime.datetime


class AppointmentList(cqrs.Response):
    appointments: list[AppointmentView]


class AppointmentBooked(cqrs.DomainEvent):
    appointment_id: str
    pet_name: str
    owner_email: str
    starts_at: datetime.datetime


class AppointmentBookedPayload(pydantic.BaseModel, frozen=True):
    appointment_id: str
    owner_email: str
    starts_at: datetime.datetime


APPOINTMENT_BOOKED = "vet_clinic.appointment_booked"


# --- dependencies --------------------------------------------------------------


class AppointmentIdsProtocol(typing.Protocol):
    def next_id(self) -> str: ...


class SequentialAppointmentIds:
    def next_id(self) -> str:
        return f"appt-{len(APPOINTMENTS) + 1}"


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(SequentialAppointmentIds, scope="request"),
            AppointmentIdsProtocol,
        )
    )
    return container


# --- handlers ----------------------------------------------------------------


class BookAppointmentHandler(
    cqrs.RequestHandler[BookAppointmentCommand, AppointmentBookedResponse]
):
    def __init__(self, ids: AppointmentIdsProtocol) -> None:
        self._ids = ids
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: BookAppointmentCommand) -> AppointmentBookedResponse:
        appointment_id = self._ids.next_id()
        self._events.append(
            AppointmentBooked(
                appointment_id=appointment_id,
                pet_name=request.pet_name,
                owner_email=request.owner_email,
                starts_at=request.starts_at,
            )
        )
        self._events.append(
            cqrs.NotificationEvent[AppointmentBookedPayload](
                event_name=APPOINTMENT_BOOKED,
                topic="clinic.appointments",
                payload=AppointmentBookedPayload(
                    appointment_id=appointment_id,
                    owner_email=request.owner_email,
                    starts_at=request.starts_at,
                ),
            )
        )
        return AppointmentBookedResponse(appointment_id=appointment_id)


class ListAppointmentsHandler(cqrs.RequestHandler[ListAppointmentsQuery, AppointmentList]):
    async def handle(self, request: ListAppointmentsQuery) -> AppointmentList:
        return AppointmentList(
            appointments=[
                view for view in APPOINTMENTS.values() if view.owner_email == request.owner_email
            ]
        )


class ProjectAppointment(cqrs.EventHandler[AppointmentBooked]):
    """Domain event handler: keeps the read model used by the query."""

    async def handle(self, event: AppointmentBooked) -> None:
        APPOINTMENTS[event.appointment_id] = AppointmentView(
            appointment_id=event.appointment_id,
            pet_name=event.pet_name,
            owner_email=event.owner_email,
            starts_at=event.starts_at,
        )


class ScheduleReminder(cqrs.EventHandler[cqrs.NotificationEvent[AppointmentBookedPayload]]):
    """Integration event handler: runs where the broker's messages are consumed."""

    async def handle(self, event: cqrs.NotificationEvent[AppointmentBookedPayload]) -> None:
        remind_at = event.payload.starts_at - datetime.timedelta(days=1)
        REMINDERS_SCHEDULED.append(f"{event.payload.owner_email} at {remind_at:%Y-%m-%d %H:%M}")


# --- mapping, startup hook, middleware --------------------------------------------


def init_commands(mapper: requests.RequestMap) -> None:
    mapper.bind(BookAppointmentCommand, BookAppointmentHandler)


def init_queries(mapper: requests.RequestMap) -> None:
    mapper.bind(ListAppointmentsQuery, ListAppointmentsHandler)


def init_domain_events(mapper: events.EventMap) -> None:
    mapper.bind(AppointmentBooked, ProjectAppointment)


def init_integration_events(mapper: events.EventMap) -> None:
    mapper.bind(events.NotificationEvent[AppointmentBookedPayload], ScheduleReminder)


def init_store_event_mapper() -> None:
    """Startup hook: tell the outbox how to turn stored rows back into events."""
    cqrs.OutboxedEventMap.register(
        APPOINTMENT_BOOKED, cqrs.NotificationEvent[AppointmentBookedPayload]
    )
    STARTUP_CALLS.append("init_store_event_mapper")


class RecordMessageTypes:
    """A middleware: sees every message a mediator handles."""

    async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
        HANDLED_MESSAGES.append(type(request).__name__)
        return await handle(request)


# --- the factories -------------------------------------------------------------


@functools.lru_cache
def mediator_factory() -> cqrs.RequestMediator:
    return request_bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=init_commands,
        queries_mapper=init_queries,
        domain_events_mapper=init_domain_events,
        message_broker=BROKER,
        middlewares=[RecordMessageTypes(), cqrs.LoggingMiddleware()],
        on_startup=[init_store_event_mapper],
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )


@functools.lru_cache
def event_mediator_factory() -> cqrs.EventMediator:
    return event_bootstrap.bootstrap(
        di_container=setup_di(),
        events_mapper=init_integration_events,
        middlewares=[RecordMessageTypes()],
        on_startup=[init_store_event_mapper],
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )


@dataclasses.dataclass
class ClinicReport:
    booked: list[str]
    listed: AppointmentList
    reminders: list[str]
    startup_calls: list[str]
    handled_messages: list[str]
    same_mediator: bool


async def main() -> ClinicReport:
    for store in (STARTUP_CALLS, HANDLED_MESSAGES, REMINDERS_SCHEDULED):
        store.clear()
    APPOINTMENTS.clear()
    BROKER.clear()
    mediator_factory.cache_clear()
    event_mediator_factory.cache_clear()

    mediator = mediator_factory()
    start = datetime.datetime(2024, 5, 6, 9, 30, tzinfo=datetime.timezone.utc)
    booked: list[str] = []
    for hour, (pet, email) in enumerate(
        [("Biscuit", "sam@example.org"), ("Pepper", "noor@example.org")]
    ):
        command = BookAppointmentCommand(
            pet_name=pet, owner_email=email, starts_at=start + datetime.timedelta(hours=hour)
        )
        booked.append((await mediator.send(command)).appointment_id)
    listed = await mediator_factory().send(ListAppointmentsQuery(owner_email="sam@example.org"))

    # The consuming side: decode each published message with the type the
    # startup hook registered under its name, then hand it to the event mediator.
    event_mediator = event_mediator_factory()
    for message in BROKER.topic("clinic.appointments"):
        event_type = cqrs.OutboxedEventMap.get(message.message_name)
        assert event_type is not None
        await event_mediator.send(event_type.from_dict(**message.payload))

    print(f"booked {booked}; listed {[a.pet_name for a in listed.appointments]}")
    print(f"reminders: {REMINDERS_SCHEDULED}")
    print(f"startup hooks run: {STARTUP_CALLS}; middleware saw {HANDLED_MESSAGES}")
    return ClinicReport(
        booked=booked,
        listed=listed,
        reminders=list(REMINDERS_SCHEDULED),
        startup_calls=list(STARTUP_CALLS),
        handled_messages=list(HANDLED_MESSAGES),
        same_mediator=mediator_factory() is mediator,
    )


if __name__ == "__main__":
    asyncio.run(main())
