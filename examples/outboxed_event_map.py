"""OutboxedEventMap: naming the event types an outbox stores.

A transactional outbox saves integration events as rows (a name and a
serialised body) in the same database transaction as the business data; a
separate relay later reads the rows and publishes them. To rebuild an event
from a row, the relay needs the class behind each name, which is what
`cqrs.OutboxedEventMap.register(name, cqrs.NotificationEvent[Payload])` records,
once, at import time.

A box office sells concert tickets. The "outbox" here is a plain list standing
in for the table (the SQLAlchemy repository is not part of this example); the
relay decodes rows through the map and publishes them to an in-memory broker.

Run: `python examples/outboxed_event_map.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import typing

import di
from pydantic import BaseModel

import cqrs
from cqrs.message_brokers import memory
from cqrs.requests import bootstrap


class TicketSoldPayload(BaseModel, frozen=True):
    ticket_id: str
    concert_id: str
    seat: str


class ConcertSoldOutPayload(BaseModel, frozen=True):
    concert_id: str


# Registered once, when the module is imported.
cqrs.OutboxedEventMap.register("box_office.ticket_sold", cqrs.NotificationEvent[TicketSoldPayload])
cqrs.OutboxedEventMap.register(
    "box_office.concert_sold_out", cqrs.NotificationEvent[ConcertSoldOutPayload]
)


@dataclasses.dataclass
class OutboxRow:
    event_name: str
    body: str


OUTBOX_TABLE: list[OutboxRow] = []
SEATS: dict[str, list[str]] = {}


def save_to_outbox(event: cqrs.NotificationEvent[typing.Any]) -> None:
    """What the outbox repository does inside the business transaction."""
    OUTBOX_TABLE.append(OutboxRow(event_name=event.event_name, body=json.dumps(event.to_dict())))


class SellTicketCommand(cqrs.Request):
    concert_id: str


class TicketSold(cqrs.Response):
    ticket_id: str
    seat: str


class SellTicketHandler(cqrs.RequestHandler[SellTicketCommand, TicketSold | None]):
    async def handle(self, request: SellTicketCommand) -> TicketSold | None:
        free = SEATS[request.concert_id]
        if not free:
            return None
        seat = free.pop(0)
        ticket_id = f"{request.concert_id}-{seat}"
        # Business write and outbox rows belong to the same transaction.
        save_to_outbox(
            cqrs.NotificationEvent[TicketSoldPayload](
                event_name="box_office.ticket_sold",
                topic="box_office",
                payload=TicketSoldPayload(
                    ticket_id=ticket_id, concert_id=request.concert_id, seat=seat
                ),
            )
        )
        if not free:
            save_to_outbox(
                cqrs.NotificationEvent[ConcertSoldOutPayload](
                    event_name="box_office.concert_sold_out",
                    topic="box_office",
                    payload=ConcertSoldOutPayload(concert_id=request.concert_id),
                )
            )
        return TicketSold(ticket_id=ticket_id, seat=seat)


async def relay_outbox(broker: cqrs.MessageBroker) -> list[cqrs.NotificationEvent[typing.Any]]:
    """Read the rows, rebuild typed events via the map, publish, then delete."""
    relayed: list[cqrs.NotificationEvent[typing.Any]] = []
    while OUTBOX_TABLE:
        row = OUTBOX_TABLE[0]
        event_type = cqrs.OutboxedEventMap.get(row.event_name)
        if event_type is None:
            raise LookupError(f"no event type registered for outbox row {row.event_name!r}")
        event = event_type.from_dict(**json.loads(row.body))
        await broker.send_message(cqrs.Message.from_event(event))
        relayed.append(event)
        OUTBOX_TABLE.pop(0)
    return relayed


async def main() -> tuple[list[cqrs.NotificationEvent[typing.Any]], list[cqrs.Message]]:
    OUTBOX_TABLE.clear()
    SEATS.clear()
    SEATS["jazz-night"] = ["A1", "A2"]
    # Registering the same pair again (say, from a second import path) is harmless.
    cqrs.OutboxedEventMap.register(
        "box_office.ticket_sold", cqrs.NotificationEvent[TicketSoldPayload]
    )

    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(SellTicketCommand, SellTicketHandler),
    )
    for _ in range(3):
        sold = await mediator.send(SellTicketCommand(concert_id="jazz-night"))
        print(f"sold: {sold}")

    broker = memory.InMemoryMessageBroker()
    relayed = await relay_outbox(broker)
    for event in relayed:
        print(f"relayed {type(event).__name__} {event.event_name}: {event.payload}")
    return relayed, broker.messages


if __name__ == "__main__":
    asyncio.run(main())
