"""`KafkaMessageBroker` against the batch message broker contract on a real broker, plus
what only it has: the record's exact form, partitions, size limits and outages."""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import uuid

import pydantic
import pytest

from cqrs.events.event import NotificationEvent
from cqrs.message_brokers.protocol import EVENT_NAME_HEADER, MESSAGE_ID_HEADER, Message
from cqrs.testing.message_broker import BatchMessageBrokerContract, MessageBrokerBackend
from cqrs_kafka import (
    BrokerUnavailableError,
    KafkaMessageBroker,
    LocalKafkaBroker,
    PublishError,
    kafka_producer_factory,
)
from cqrs_kafka.broker import CONTENT_TYPE_HEADER, record_value
from cqrs_kafka.local import free_port
from cqrs_kafka.testing import Record, json_value, read_records
from cqrs_kafka.topics import ensure_topics

_STANDARD_HEADERS = {MESSAGE_ID_HEADER, EVENT_NAME_HEADER, CONTENT_TYPE_HEADER}


def message_of(record: Record) -> Message:
    """The message a consumer reads from `record`: the standard headers back into fields."""
    headers = {name: value.decode() for name, value in record.headers}
    return Message(
        message_name=headers[EVENT_NAME_HEADER],
        topic=record.topic,
        payload=json_value(record),
        message_id=uuid.UUID(headers[MESSAGE_ID_HEADER]),
        key=None if record.key is None else record.key.decode(),
        headers={name: value for name, value in headers.items() if name not in _STANDARD_HEADERS},
    )


class KafkaBrokerBackend(MessageBrokerBackend):
    def __init__(self, broker: KafkaMessageBroker, bootstrap_servers: str) -> None:
        self.broker = broker
        self.bootstrap_servers = bootstrap_servers

    async def published(self, topic: str, count: int) -> list[Message]:
        records = await read_records(self.bootstrap_servers, topic, count)
        return [message_of(record) for record in records]


class TestKafkaMessageBroker(BatchMessageBrokerContract):
    @pytest.fixture
    def backend(
        self, broker: KafkaMessageBroker, kafka_bootstrap_servers: str
    ) -> KafkaBrokerBackend:
        return KafkaBrokerBackend(broker, kafka_bootstrap_servers)


class Shipped(pydantic.BaseModel):
    order_id: str
    sequence: int


def shipped(order_id: str, sequence: int, topic: str) -> Message:
    event = NotificationEvent[Shipped](
        event_name="shipped", topic=topic, payload=Shipped(order_id=order_id, sequence=sequence)
    )
    return Message.from_event(event, key=order_id)


@pytest.fixture
async def broker(kafka_bootstrap_servers: str) -> collections.abc.AsyncIterator[KafkaMessageBroker]:
    async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as broker:
        yield broker


async def test_one_keys_records_stay_in_order_on_one_partition(
    broker: KafkaMessageBroker, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 3})
    keys = [f"order-{n}" for n in range(6)]
    messages = [shipped(key, sequence, kafka_topic) for sequence in range(10) for key in keys]

    outcomes = await broker.send_batch(messages)

    assert outcomes == [None] * len(messages)
    records = await read_records(kafka_bootstrap_servers, kafka_topic, len(messages))
    sequences: dict[str, list[int]] = collections.defaultdict(list)
    partitions: dict[str, set[int]] = collections.defaultdict(set)
    for record in records:
        assert record.key is not None
        key = record.key.decode()
        sequences[key].append(json_value(record)["payload"]["sequence"])
        partitions[key].add(record.partition)
    assert all(sequences[key] == list(range(10)) for key in keys), sequences
    assert all(len(partitions[key]) == 1 for key in keys)
    assert len(set[int]().union(*partitions.values())) > 1, "all keys on one partition"


async def test_a_record_carries_the_standard_headers_and_the_payload_as_json(
    broker: KafkaMessageBroker, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    message = Message(
        message_name="shipped",
        topic=kafka_topic,
        payload={"order_id": "o-1", "note": "thé vert"},
        key="o-1",
        headers={"traceparent": traceparent, "tracestate": "vendor=1"},
    )

    await broker.send_message(message)

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert record.key == b"o-1"
    assert dict(record.headers) == {
        "message_id": str(message.message_id).encode(),
        "event_name": b"shipped",
        "content-type": b"application/json",
        "traceparent": traceparent.encode(),
        "tracestate": b"vendor=1",
    }
    assert json_value(record) == {"order_id": "o-1", "note": "thé vert"}


async def test_the_value_decodes_back_into_the_event(
    broker: KafkaMessageBroker, kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    event = NotificationEvent[Shipped](
        event_name="shipped", topic=kafka_topic, payload=Shipped(order_id="o-2", sequence=7)
    )

    await broker.send_message(Message.from_event(event, key="o-2"))

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert NotificationEvent[Shipped].model_validate(json_value(record)) == event


async def test_a_message_too_large_fails_alone_and_holds_back_its_keys_later_ones(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    producer = kafka_producer_factory(kafka_bootstrap_servers, max_request_size=10_000)
    big = Message(message_name="big", topic=kafka_topic, payload={"blob": "x" * 20_000}, key="a")
    after_big = shipped("a", 2, kafka_topic)
    other_key = shipped("b", 1, kafka_topic)

    async with KafkaMessageBroker(producer) as broker:
        outcomes = await broker.send_batch([big, after_big, other_key])

    assert isinstance(outcomes[0], PublishError)
    assert "big" in str(outcomes[0])
    assert isinstance(outcomes[1], PublishError)
    assert "earlier message with key 'a'" in str(outcomes[1])
    assert outcomes[2] is None
    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert record.key == b"b"


async def test_send_message_raises_publish_error_naming_the_message(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    producer = kafka_producer_factory(kafka_bootstrap_servers, max_request_size=10_000)
    big = Message(message_name="big", topic=kafka_topic, payload={"blob": "x" * 20_000})

    async with KafkaMessageBroker(producer) as broker:
        with pytest.raises(PublishError, match=f"big \\({big.message_id}\\).*{kafka_topic}"):
            await broker.send_message(big)


async def test_an_unreachable_broker_is_a_clear_error_at_start() -> None:
    address = f"127.0.0.1:{free_port()}"
    broker = KafkaMessageBroker(kafka_producer_factory(address))

    with pytest.raises(BrokerUnavailableError, match=address) as caught:
        await broker.send_message(Message(message_name="ping", topic="t", payload={}))

    assert "KAFKA_BOOTSTRAP_SERVERS" in str(caught.value)
    assert not broker.producer.started


async def test_the_batch_path_raises_when_no_broker_answers() -> None:
    """The relay then leaves its rows pending without counting an attempt."""
    broker = KafkaMessageBroker(kafka_producer_factory(f"127.0.0.1:{free_port()}"))

    with pytest.raises(BrokerUnavailableError):
        await broker.send_batch([Message(message_name="ping", topic="t", payload={})])


async def test_a_paused_broker_loses_nothing_once_resumed(kafka_topic: str) -> None:
    with LocalKafkaBroker() as local:
        async with KafkaMessageBroker(kafka_producer_factory(local.bootstrap_servers)) as broker:
            before = [shipped(f"k{n % 3}", n, kafka_topic) for n in range(20)]
            assert await broker.send_batch(before) == [None] * 20

            local.pause()
            during = [shipped(f"k{n % 3}", n, kafka_topic) for n in range(20, 40)]
            sending = asyncio.ensure_future(broker.send_batch(during))
            # The batch is stuck while the broker is frozen.
            done, _ = await asyncio.wait({sending}, timeout=1.0)
            assert not done
            local.resume()
            outcomes = await asyncio.wait_for(sending, timeout=60)

        assert outcomes == [None] * 20
        records = await read_records(local.bootstrap_servers, kafka_topic, 40)
        sequences = sorted(json_value(r)["payload"]["sequence"] for r in records)
        assert sequences == list(range(40))


async def test_close_flushes_and_a_later_send_reconnects(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    broker = KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers))
    await broker.send_message(shipped("o", 1, kafka_topic))
    await broker.close()
    assert not broker.producer.started

    await broker.send_message(shipped("o", 2, kafka_topic))
    await broker.close()

    records = await read_records(kafka_bootstrap_servers, kafka_topic, 2)
    assert [json_value(r)["payload"]["sequence"] for r in records] == [1, 2]


def test_a_stored_message_goes_out_with_its_json_body_unchanged() -> None:
    body = b'{"order_id": "o1",  "sequence": 1}'  # not as json.dumps would write it
    stored = Message.from_json("shipped", "orders", body, uuid.UUID(int=1), key="o1")

    assert record_value(stored) == body
    assert record_value(Message("shipped", "orders", {"order_id": "o1"})) == b'{"order_id":"o1"}'
