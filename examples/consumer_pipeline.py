"""Consuming integration events with cqrs's consumer pipeline, on the in-memory transport.

A library's catalogue service keeps count of the copies on loan from the
`loans` events another service publishes. The consumer side is:

* an `EventHandler[NotificationEvent[BookBorrowed]]` that reads where the
  record came from with `current_delivery()`, and raises a `PermanentError`
  subclass for a book the catalogue does not know: retrying cannot help, so
  the record goes to the dead-letter topic at once;
* an `EventPipeline`: decoding, an inbox in the handler's transaction (a
  redelivered event has no second effect), retries with backoff
  (`ConsumerRetry`), dead letters;
* an `EventConsumer` running the pipeline over a transport, one worker per
  partition, committing positions once records are settled.

The transport is `MemoryBroker`, which a test (or this example) fills with
records as a Kafka adapter would. On Kafka, `cqrs_kafka.subscribe_events`
builds the same pipeline from the same arguments.

Run: `python examples/consumer_pipeline.py`
"""

from __future__ import annotations

import asyncio
import typing

import pydantic

import cqrs
from cqrs.consumer import (
    ConsumerRetry,
    EventConsumer,
    EventPipeline,
    MemoryBroker,
    current_delivery,
)
from cqrs.consumer.record import text_headers
from cqrs.events import bootstrap
from cqrs.inbox import MemoryInbox

CATALOGUE = {"978-0441013593", "978-0553293357"}
ON_LOAN: dict[str, int] = {}
SEEN_AT: list[str] = []


class BookBorrowed(pydantic.BaseModel):
    isbn: str
    member_id: str


Borrowed = cqrs.NotificationEvent[BookBorrowed]


class UnknownBook(cqrs.PermanentError):
    """The catalogue has no such book: no retry will change that."""


class CountLoans(cqrs.EventHandler[Borrowed]):
    async def handle(self, event: Borrowed) -> None:
        delivery = current_delivery()
        SEEN_AT.append(f"{delivery.topic}[{delivery.partition}]@{delivery.offset}")
        isbn = event.payload.isbn
        if isbn not in CATALOGUE:
            raise UnknownBook(f"no book {isbn} in the catalogue")
        ON_LOAN[isbn] = ON_LOAN.get(isbn, 0) + 1


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(Borrowed, CountLoans)


def borrowed(isbn: str, member_id: str) -> Borrowed:
    return Borrowed(
        event_name="book_borrowed",
        topic="loans",
        payload=BookBorrowed(isbn=isbn, member_id=member_id),
    )


async def main() -> dict[str, typing.Any]:
    ON_LOAN.clear()
    SEEN_AT.clear()
    broker = MemoryBroker(partitions=2)
    dune = cqrs.Message.from_event(borrowed("978-0441013593", "m-1"), key="978-0441013593")
    for message in (
        dune,
        dune,  # delivered twice, as at-least-once delivery may do
        cqrs.Message.from_event(borrowed("978-0553293357", "m-2"), key="978-0553293357"),
        cqrs.Message.from_event(borrowed("000-0000000000", "m-3"), key="000-0000000000"),
    ):
        await broker.send_message(message)

    inbox = MemoryInbox()
    pipeline = EventPipeline(
        mediator=bootstrap.bootstrap(
            events_mapper=lambda events: events.bind(Borrowed, CountLoans)
        ),
        dead_letters=broker,
        consumer_name="catalogue",
        events={"book_borrowed": Borrowed},
        transaction=lambda: inbox.session().begin(),
        inbox=inbox,
        retry=ConsumerRetry(attempts=3, initial_delay=0.01),
    )
    async with EventConsumer(broker.transport(["loans"], group="catalogue"), pipeline):
        for partition in range(broker.partitions("loans")):
            end = len([r for r in broker.records("loans") if r.partition == partition])
            await broker.wait_for_position("catalogue", "loans", partition, end)

    dead_letters = [text_headers(record.headers) for record in broker.records("loans.dlq")]
    print(f"on loan: {ON_LOAN}")
    for headers in dead_letters:
        print(f"dead letter from {headers['x-original-topic']}: {headers['x-dead-letter-reason']}")
    print(f"health: {pipeline.health.report()}")
    return {
        "on_loan": dict(ON_LOAN),
        "handled": len(SEEN_AT),
        "dead_letters": dead_letters,
        "health": pipeline.health.report(),
    }


if __name__ == "__main__":
    asyncio.run(main())
