"""Producing notification events to a message broker.

A parking garage tells other services when a spot is reserved or released.
The command handlers record `cqrs.NotificationEvent[Payload]` events (name,
topic and a typed pydantic payload) in their `events` list; after the handler
returns, the mediator's event emitter publishes each of them, as a
`cqrs.Message`, to the `message_broker` given to bootstrap. Domain events
recorded alongside still go to their in-process handlers only.

Shown: one event per topic (a notification for humans, a state-transfer
event for read models); the older untyped style with a `dict` payload and the
`event_topic=` keyword; and `cqrs.ECSTEvent` for event-carried state.

The broker here is an in-memory one so the example can show what was
published; a real service passes its Kafka broker the same way. Delivery is
not guaranteed: if the broker fails, the message is lost (the transactional
outbox exists for that).

Run: `python examples/event_producing.py`
"""

from __future__ import annotations

import asyncio
import typing

import di
import pydantic

import cqrs
from cqrs import events, requests
from cqrs.message_brokers import memory
from cqrs.requests import bootstrap

OCCUPIED: dict[str, str] = {}
SPOT_HISTORY: list[str] = []


class ReserveSpotCommand(cqrs.Request):
    spot_id: str
    plate: str


class ReleaseSpotCommand(cqrs.Request):
    spot_id: str


class SpotReservedPayload(pydantic.BaseModel, frozen=True):
    spot_id: str
    plate: str


class SpotStatePayload(pydantic.BaseModel, frozen=True):
    spot_id: str
    occupied: bool
    free_spots_left: int


class SpotChanged(cqrs.DomainEvent):
    spot_id: str
    occupied: bool


TOTAL_SPOTS = 40


class ReserveSpotHandler(cqrs.RequestHandler[ReserveSpotCommand, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: ReserveSpotCommand) -> None:
        OCCUPIED[request.spot_id] = request.plate
        self._events.append(
            cqrs.NotificationEvent[SpotReservedPayload](
                event_name="SpotReserved",
                topic="parking_notification_events",
                payload=SpotReservedPayload(spot_id=request.spot_id, plate=request.plate),
            )
        )
        self._events.append(
            cqrs.NotificationEvent[SpotStatePayload](
                event_name="SpotReserved",
                topic="parking_ecst_events",
                payload=SpotStatePayload(
                    spot_id=request.spot_id,
                    occupied=True,
                    free_spots_left=TOTAL_SPOTS - len(OCCUPIED),
                ),
            )
        )
        self._events.append(SpotChanged(spot_id=request.spot_id, occupied=True))


class ReleaseSpotHandler(requests.RequestHandler[ReleaseSpotCommand, None]):
    def __init__(self) -> None:
        self._events: typing.List[events.Event] = []  # noqa: UP006 - the documented spelling

    @property
    def events(self) -> typing.List[events.Event]:  # noqa: UP006
        return self._events

    async def handle(self, request: ReleaseSpotCommand) -> None:
        OCCUPIED.pop(request.spot_id, None)
        # The untyped style: a plain dict payload, the topic given as `event_topic`.
        self._events.append(
            events.NotificationEvent(
                event_topic="parking_notification_events",
                event_name="SpotReleased",
                payload={"spot_id": request.spot_id},
            )
        )
        self._events.append(
            events.ECSTEvent(
                event_topic="parking_ecst_events",
                event_name="SpotReleased",
                payload={
                    "spot_id": request.spot_id,
                    "occupied": False,
                    "free_spots_left": TOTAL_SPOTS - len(OCCUPIED),
                },
            )
        )
        self._events.append(SpotChanged(spot_id=request.spot_id, occupied=False))


class RecordSpotHistory(cqrs.EventHandler[SpotChanged]):
    async def handle(self, event: SpotChanged) -> None:
        SPOT_HISTORY.append(f"{event.spot_id}:{'in' if event.occupied else 'out'}")


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ReserveSpotCommand, ReserveSpotHandler)
    mapper.bind(ReleaseSpotCommand, ReleaseSpotHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(SpotChanged, RecordSpotHistory)


async def main() -> memory.InMemoryMessageBroker:
    OCCUPIED.clear()
    SPOT_HISTORY.clear()
    broker = memory.InMemoryMessageBroker()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events_mapper,
        message_broker=broker,
    )

    await mediator.send(ReserveSpotCommand(spot_id="B12", plate="KA-4711"))
    await mediator.send(ReserveSpotCommand(spot_id="B13", plate="HH-0815"))
    await mediator.send(ReleaseSpotCommand(spot_id="B12"))

    for message in broker.messages:
        print(f"[{message.topic}] {message.message_name}: {message.payload['payload']}")
    print(f"in-process history: {SPOT_HISTORY}")
    return broker


if __name__ == "__main__":
    asyncio.run(main())
