"""Signed messages: a consumer acts only on records its publishers signed.

A warehouse consumes `parcel_released` events. Its publisher signs each
record with the current key of a shared keyring (`cqrs.signing`); someone
else writes a record onto the topic by hand. The consumer pipeline checks
every signature before decoding: the forged record is dead-lettered with a
`SignatureError` and no handler runs. Then the keys rotate: the consumer
trusts the old and the new key, and a record signed with either is handled.

The records go through the in-memory transport; on Kafka,
`cqrs_kafka.KafkaMessageBroker(keyring=...)` signs and
`cqrs_kafka.subscribe_events(keyring=...)` checks, with the keyring from
`CQRS_SIGNING_KEYS` and `CQRS_SIGNING_KEY_ID` (`Keyring.from_env()`).

Run: `python examples/signed_messages.py`
"""

from __future__ import annotations

import asyncio
import base64
import typing

import pydantic

import cqrs
from cqrs.consumer import EventPipeline, MemoryBroker, Outcome
from cqrs.consumer.dead_letter import REASON_HEADER
from cqrs.consumer.record import text_headers
from cqrs.events import bootstrap
from cqrs.message_brokers.protocol import EVENT_NAME_HEADER, MESSAGE_ID_HEADER, payload_json
from cqrs.signing import Keyring, new_secret

RELEASED: list[str] = []


class ParcelReleased(pydantic.BaseModel):
    parcel_id: str


Released = cqrs.NotificationEvent[ParcelReleased]
cqrs.OutboxedEventMap.register("parcel_released", Released)


class ReleaseParcel(cqrs.EventHandler[Released]):
    async def handle(self, event: Released) -> None:
        RELEASED.append(event.payload.parcel_id)


def bind(events: cqrs.EventMap) -> None:
    events.bind(Released, ReleaseParcel)


class Result(typing.TypedDict):
    outcomes: list[str]
    released: list[str]
    dead_letters: list[str]


def record_headers(message: cqrs.Message) -> dict[str, str]:
    return {MESSAGE_ID_HEADER: str(message.message_id), EVENT_NAME_HEADER: message.message_name}


def publish(broker: MemoryBroker, parcel_id: str, keyring: Keyring | None) -> None:
    """Append the event as a publisher would, signed when given a keyring."""
    event = Released(
        event_name="parcel_released", topic="parcels", payload=ParcelReleased(parcel_id=parcel_id)
    )
    message = cqrs.Message.from_event(event, key=parcel_id)
    value = payload_json(message.payload)
    headers = record_headers(message)
    if keyring is not None:
        headers |= keyring.sign(value, parcel_id.encode(), headers)
    broker.append(
        "parcels",
        value,
        key=parcel_id.encode(),
        headers=[(name, text.encode()) for name, text in headers.items()],
    )


async def main() -> Result:
    RELEASED.clear()
    old, new = base64.b64decode(new_secret()), base64.b64decode(new_secret())
    publisher = Keyring({"2024": old}, signing_key_id="2024")
    broker = MemoryBroker()
    publish(broker, "P-1", publisher)
    publish(broker, "P-2", keyring=None)  # written by hand: no signature
    # Rotation: the consumer trusts both keys; the publisher signs with the new one.
    rotated = Keyring({"2024": old, "2025": new}, signing_key_id="2025")
    publish(broker, "P-3", rotated)
    pipeline = EventPipeline[object](
        mediator=bootstrap.bootstrap(events_mapper=bind),
        dead_letters=broker,
        consumer_name="warehouse",
        keyring=rotated,
    )
    outcomes: list[Outcome] = []
    for record in broker.records("parcels"):
        outcomes.append(await pipeline.settle(record, released=asyncio.Event()))
    dead = [text_headers(record.headers)[REASON_HEADER] for record in broker.records("parcels.dlq")]
    return {
        "outcomes": [outcome.value for outcome in outcomes],
        "released": list(RELEASED),
        "dead_letters": dead,
    }


if __name__ == "__main__":
    print(asyncio.run(main()))
