"""`KafkaDeadLetters` against a local broker: the size limit it fits dead letters to, the
smaller shapes it falls back on, and the errors it raises."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker

from cqrs.consumer.dead_letter import OMITTED_HEADER, VALUE_SIZE_HEADER, DeadLetter
from cqrs.consumer.memory import MemoryRecord
from cqrs.consumer.record import text_headers
from cqrs_kafka.dead_letter import KafkaDeadLetters
from cqrs_kafka.errors import DeadLetterError
from cqrs_kafka.testing import read_records
from cqrs_kafka.topics import ensure_topics


def letter(topic: str, size: int) -> DeadLetter:
    record = MemoryRecord(topic, 0, 3, b"k", b"v" * size, (("trace", b"t-1"),))
    return DeadLetter(record, ValueError("bad"), attempts=1, topic=f"{topic}.dlq")


def test_the_limit_is_the_producers_max_request_size_less_room_for_headers() -> None:
    assert KafkaDeadLetters(KafkaBroker("localhost:9092")).max_size == 1024 * 1024 - 1024
    assert KafkaDeadLetters(KafkaBroker("localhost:9092", max_request_size=8192)).max_size == 7168
    assert KafkaDeadLetters(KafkaBroker("localhost:9092"), max_size=500).max_size == 500


async def test_a_dead_letter_refused_as_too_large_goes_again_without_its_value(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {f"{kafka_topic}.dlq": 1})
    # The producer refuses anything over 4 KiB, though the publisher believes in more:
    # as when the broker's own limit is below the producer's.
    broker = KafkaBroker(kafka_bootstrap_servers, max_request_size=4096)
    await broker.start()
    try:
        await KafkaDeadLetters(broker, max_size=10**9).publish(letter(kafka_topic, 100_000))
    finally:
        await broker.stop()

    (dead,) = await read_records(kafka_bootstrap_servers, f"{kafka_topic}.dlq", 1)
    headers = text_headers(dead.headers)
    assert dead.value == b""
    assert headers[OMITTED_HEADER] == "value"
    assert headers[VALUE_SIZE_HEADER] == "100000"
    assert headers["trace"] == "t-1"


async def test_a_limit_no_shape_fits_raises_with_what_to_do(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    broker = KafkaBroker(kafka_bootstrap_servers, max_request_size=64)
    await broker.start()
    try:
        with pytest.raises(DeadLetterError, match=r"raise the topic's max\.message\.bytes"):
            await KafkaDeadLetters(broker, max_size=10**9).publish(letter(kafka_topic, 10))
    finally:
        await broker.stop()


async def test_another_failure_raises_a_dead_letter_error_with_the_cause_chained() -> None:
    broker = KafkaBroker("localhost:9092")  # never connected: publishing fails at once

    with pytest.raises(DeadLetterError, match="could not be published") as raised:
        await KafkaDeadLetters(broker).publish(letter("orders", 10))

    assert raised.value.__cause__ is not None
