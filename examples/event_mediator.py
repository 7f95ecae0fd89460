"""EventMediator: handling integration events that arrive from a broker.

A library branch keeps a local catalogue in sync with events other services
publish: a notification when a book is returned anywhere, and event-carried
state (ECST) with a branch's opening status. The consumer side is:

* event handlers typed by the event class they take, e.g.
  `cqrs.EventHandler[cqrs.NotificationEvent[BookReturnedPayload]]`;
* an events mapper binding each `NotificationEvent[...]` / `ECSTEvent[...]`
  type to its handlers;
* `cqrs.events.bootstrap.bootstrap(di_container=..., events_mapper=...)`,
  cached with `functools.lru_cache` so the process has one mediator;
* a consumer callback that decodes each raw message into the typed event and
  calls `await mediator.send(event)`.

The broker subscription itself (Kafka, FastStream) is left out: raw JSON
values are fed to the consumer from a list, as a subscriber would.

Run: `python examples/event_mediator.py`
"""

from __future__ import annotations

import asyncio
import functools
import json
import typing

import di
import pydantic

import cqrs
from cqrs import events
from cqrs.events import bootstrap

AVAILABLE_COPIES: dict[str, int] = {}
BRANCHES_OPEN: dict[str, bool] = {}
RETURN_LOG: list[str] = []


class BookReturnedPayload(pydantic.BaseModel):
    isbn: str
    branch: str


class BranchStatePayload(pydantic.BaseModel):
    branch: str
    is_open: bool


class IncreaseAvailableCopies(cqrs.EventHandler[cqrs.NotificationEvent[BookReturnedPayload]]):
    async def handle(self, event: cqrs.NotificationEvent[BookReturnedPayload]) -> None:
        isbn = event.payload.isbn
        AVAILABLE_COPIES[isbn] = AVAILABLE_COPIES.get(isbn, 0) + 1


class LogReturn(cqrs.EventHandler[cqrs.NotificationEvent[BookReturnedPayload]]):
    async def handle(self, event: cqrs.NotificationEvent[BookReturnedPayload]) -> None:
        RETURN_LOG.append(f"{event.event_id}:{event.payload.isbn}@{event.payload.branch}")


class UpdateBranchReadModel(cqrs.EventHandler[events.ECSTEvent[BranchStatePayload]]):
    async def handle(self, event: events.ECSTEvent[BranchStatePayload]) -> None:
        BRANCHES_OPEN[event.payload.branch] = event.payload.is_open


def init_events(mapper: events.EventMap) -> None:
    mapper.bind(events.NotificationEvent[BookReturnedPayload], IncreaseAvailableCopies)
    mapper.bind(events.NotificationEvent[BookReturnedPayload], LogReturn)
    mapper.bind(events.ECSTEvent[BranchStatePayload], UpdateBranchReadModel)


@functools.lru_cache(maxsize=1)  # one mediator per process
def mediator_factory() -> cqrs.EventMediator:
    return bootstrap.bootstrap(di_container=di.Container(), events_mapper=init_events)


class OnEvent:
    """What a broker subscription would call with each message value."""

    DECODERS: dict[str, type[cqrs.NotificationEvent]] = {
        "catalogue.returns": cqrs.NotificationEvent[BookReturnedPayload],
        "branches.state": cqrs.ECSTEvent[BranchStatePayload],
    }

    def __init__(self, event_mediator: cqrs.EventMediator) -> None:
        self._event_mediator = event_mediator

    async def __call__(self, topic: str, value: bytes) -> None:
        event_type = self.DECODERS.get(topic)
        if event_type is None:
            return  # not a topic this service cares about
        event = event_type.model_validate(json.loads(value), context={"assume_validated": True})
        await self._event_mediator.send(event)


def published_elsewhere() -> list[tuple[str, bytes]]:
    """Messages as another service would have put them on the broker."""
    returned = [
        cqrs.NotificationEvent[BookReturnedPayload](
            event_name="BookReturned",
            topic="catalogue.returns",
            payload=BookReturnedPayload(isbn=isbn, branch=branch),
        )
        for isbn, branch in (("978-0441013593", "east"), ("978-0441013593", "west"))
    ]
    state = cqrs.ECSTEvent[BranchStatePayload](
        event_name="BranchStateChanged",
        topic="branches.state",
        payload=BranchStatePayload(branch="west", is_open=False),
    )
    unrelated = cqrs.NotificationEvent[dict[str, str]](
        event_name="StaffRotaPublished", topic="hr.rota", payload={"week": "2024-W07"}
    )
    return [
        (event.topic, json.dumps(event.to_dict()).encode())
        for event in (*returned, state, unrelated)
    ]


class LibraryState(typing.TypedDict):
    """What the read side holds after the consumer ran."""

    copies: dict[str, int]
    branches_open: dict[str, bool]
    return_log: list[str]


async def main() -> LibraryState:
    AVAILABLE_COPIES.clear()
    BRANCHES_OPEN.clear()
    RETURN_LOG.clear()
    consumer = OnEvent(mediator_factory())

    for topic, value in published_elsewhere():
        await consumer(topic, value)

    print(f"copies={AVAILABLE_COPIES} branches_open={BRANCHES_OPEN}")
    print(f"returns logged: {len(RETURN_LOG)}")
    return {
        "copies": dict(AVAILABLE_COPIES),
        "branches_open": dict(BRANCHES_OPEN),
        "return_log": list(RETURN_LOG),
    }


if __name__ == "__main__":
    asyncio.run(main())
