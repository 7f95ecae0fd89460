"""Signed messages on the local broker: `KafkaMessageBroker(keyring=...)` signs, and
`subscribe_events(keyring=...)` handles only what a key of its keyring signed."""

from __future__ import annotations

import collections.abc
import contextlib
import typing
import uuid

import pydantic
import pytest
from faststream.kafka import KafkaBroker

from cqrs.consumer.dead_letter import ERROR_HEADER, ORIGINAL_OFFSET_HEADER, REASON_HEADER
from cqrs.consumer.record import text_headers
from cqrs.events import EventHandler, EventMap, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.message_brokers.protocol import Message
from cqrs.signing import SIGNATURE_HEADER, Keyring
from cqrs.testing import registered_outbox_events
from cqrs.testing.consumer import until
from cqrs_kafka import KafkaMessageBroker, KafkaProducerAdapter
from cqrs_kafka.broker import record_headers, record_value
from cqrs_kafka.consumer import subscribe_events
from cqrs_kafka.testing import read_records
from cqrs_kafka.topics import ensure_topics

RESERVED = "signing_test_stock_reserved"
GROUP_OPTIONS: dict[str, typing.Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
K1, K2 = b"1" * 32, b"2" * 32


class Reserved(pydantic.BaseModel):
    order_id: str


StockReserved = NotificationEvent[Reserved]


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({RESERVED: StockReserved}):
        yield


def reserved(order_id: str, topic: str) -> Message:
    event = StockReserved(event_name=RESERVED, topic=topic, payload=Reserved(order_id=order_id))
    return Message.from_event(event, key=order_id)


async def publish(servers: str, keyring: Keyring | None, *messages: Message) -> None:
    async with KafkaMessageBroker(KafkaProducerAdapter(servers), keyring=keyring) as broker:
        for message in messages:
            await broker.send_message(message)


@contextlib.asynccontextmanager
async def consuming(
    servers: str, topic: str, keyring: Keyring, handled: list[str]
) -> collections.abc.AsyncGenerator[None, None]:
    class Handler(EventHandler[StockReserved]):
        async def handle(self, event: StockReserved) -> None:
            handled.append(event.payload.order_id)

    def bind(events: EventMap) -> None:
        events.bind(StockReserved, Handler)

    broker = KafkaBroker(servers)
    subscribe_events(
        broker,
        topic,
        group_id=f"group-{uuid.uuid4().hex[:8]}",
        mediator=bootstrap(events_mapper=bind),
        keyring=keyring,
        **GROUP_OPTIONS,
    )
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def test_forged_records_are_dead_lettered_and_never_handled(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    servers, keyring = kafka_bootstrap_servers, Keyring({"k1": K1}, signing_key_id="k1")
    await ensure_topics(servers, {kafka_topic: 1, f"{kafka_topic}.dlq": 1})
    forger = Keyring({"k1": b"f" * 32}, signing_key_id="k1")  # the right id, a guessed secret
    await publish(servers, None, reserved("o-unsigned", kafka_topic))
    await publish(servers, forger, reserved("o-forged", kafka_topic))
    # A signed record whose value was changed afterwards, keeping its signature headers.
    genuine = reserved("o-genuine", kafka_topic)
    headers = record_headers(genuine, current_trace={})
    signature = keyring.sign(
        record_value(genuine), b"o-genuine", {n: v.decode() for n, v in headers}
    )
    async with KafkaProducerAdapter(servers) as producer:
        await producer.send(
            kafka_topic,
            record_value(genuine).replace(b"o-genuine", b"o-tampered"),
            key=b"o-genuine",
            headers=[*headers, *((n, v.encode()) for n, v in signature.items())],
        )
    await publish(servers, keyring, reserved("o-signed", kafka_topic))
    handled: list[str] = []

    async with consuming(servers, kafka_topic, keyring, handled):
        dead = await read_records(servers, f"{kafka_topic}.dlq", 3)
        await until(lambda: handled == ["o-signed"], "the signed record handled")

    assert handled == ["o-signed"]
    letters = [text_headers(record.headers) for record in dead]
    assert [letter[ORIGINAL_OFFSET_HEADER] for letter in letters] == ["0", "1", "2"]
    assert {letter[ERROR_HEADER] for letter in letters} == {"cqrs.signing.SignatureError"}
    assert [letter[REASON_HEADER].split(": ")[2][:24] for letter in letters] == [
        "the record is not signed",
        "the record does not matc",
        "the record does not matc",
    ]


async def test_rotation_records_of_the_old_and_the_new_key_are_handled(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    servers = kafka_bootstrap_servers
    await ensure_topics(servers, {kafka_topic: 1})
    before = Keyring({"k1": K1}, signing_key_id="k1")
    during = Keyring({"k1": K1, "k2": K2}, signing_key_id="k2")
    await publish(servers, before, reserved("o-old-key", kafka_topic))
    await publish(servers, during, reserved("o-new-key", kafka_topic))
    [old, new] = await read_records(servers, kafka_topic, 2)
    handled: list[str] = []

    async with consuming(servers, kafka_topic, during, handled):
        await until(lambda: len(handled) == 2, "both records handled")

    assert handled == ["o-old-key", "o-new-key"]
    assert text_headers(old.headers)["x-signature-key-id"] == "k1"
    assert text_headers(new.headers)["x-signature-key-id"] == "k2"
    assert SIGNATURE_HEADER in text_headers(new.headers)
