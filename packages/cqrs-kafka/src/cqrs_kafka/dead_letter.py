"""Dead letters on Kafka: records a `subscribe_events` consumer gave up on go to a
dead-letter topic (`<topic>.dlq` by default) through the FastStream broker's producer.

A dead letter is the original record with the headers of
`cqrs.consumer.dead_letter` added (the table there lists them all):
`x-dead-letter-reason`, `x-dead-letter-error`, `x-dead-letter-attempts`,
`x-original-topic`, `x-original-partition`, `x-original-offset`,
`x-original-key`, `x-original-value-size` and, when something was left out,
`x-dead-letter-omitted`.

It always fits. The limit is the producer's `max_request_size` (aiokafka's
default, 1 MiB, unless the broker was built with
`KafkaBroker(max_request_size=...)`), less room for the headers FastStream
adds; a record too large to be dead-lettered whole is dead-lettered without
its value (`x-dead-letter-omitted: value`), to be fetched from its original
topic by its coordinates. A Kafka broker whose own limit
(`message.max.bytes`) is lower refuses the dead letter as too large; then
the next smaller shape is sent. Any other failure raises `DeadLetterError`:
the consumer tries again after a pause (`cqrs.consumer.DeadLetterRetry`).

>>> from faststream.kafka import KafkaBroker
>>> KafkaDeadLetters(KafkaBroker("localhost:9092")).max_size
1047552
"""

from __future__ import annotations

import typing

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faststream.kafka import KafkaBroker

from cqrs.consumer.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    OMITTED_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
    VALUE_SIZE_HEADER,
    DeadLetter,
    DeadLetterRecord,
    dead_letter_topic,
)
from cqrs_kafka.errors import DeadLetterError

__all__ = (
    "KafkaDeadLetters",
    "DeadLetterError",
    "dead_letter_topic",
    "kafka_record_size",
    "REASON_HEADER",
    "ERROR_HEADER",
    "ATTEMPTS_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_KEY_HEADER",
    "VALUE_SIZE_HEADER",
    "OMITTED_HEADER",
)

#: aiokafka's `max_request_size` when none is given.
DEFAULT_MAX_REQUEST_SIZE: typing.Final = 1024 * 1024
#: Room left for the headers FastStream adds to what it publishes (content type,
#: correlation id) and for the record batch around the record.
_PUBLISH_OVERHEAD: typing.Final = 1024


def kafka_record_size(key: bytes | None, value: bytes, headers: typing.Mapping[str, str]) -> int:
    """The size aiokafka checks against `max_request_size` for such a record."""
    encoded = [(name, text.encode()) for name, text in headers.items()]
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, encoded)  # pyright: ignore[reportArgumentType]


class KafkaDeadLetters:
    """Publishes dead letters through `broker` (a `cqrs.consumer.DeadLetterPublisher`).

    `max_size` is the largest dead letter it sends whole; see the module
    docstring for the default.
    """

    def __init__(self, broker: KafkaBroker, max_size: int | None = None) -> None:
        self.broker = broker
        if max_size is None:
            max_size = _max_request_size(broker) - _PUBLISH_OVERHEAD
        self.max_size = max_size

    async def publish(self, letter: DeadLetter) -> None:
        """Publish the fullest shape of `letter` that fits; `DeadLetterError` if none went."""
        too_large: Exception | None = None
        # Smaller shapes follow, for a Kafka broker whose own limit is lower.
        for shape in letter.fitting(self.max_size, kafka_record_size):
            try:
                await self._send(shape)
            except (MessageSizeTooLargeError, RecordListTooLargeError) as error:
                too_large = error
            except Exception as error:
                raise DeadLetterError(
                    f"{letter.coordinates} could not be published to the dead-letter topic "
                    f"{letter.topic!r}: {type(error).__name__}: {error}"
                ) from error
            else:
                return
        raise DeadLetterError(
            f"{letter.coordinates} is too large for the dead-letter topic {letter.topic!r} even "
            f"without its value, headers and key: raise the topic's max.message.bytes."
        ) from too_large

    async def _send(self, shape: DeadLetterRecord) -> None:
        await self.broker.publish(
            shape.value, topic=shape.topic, key=shape.key, headers=dict(shape.headers)
        )


def _max_request_size(broker: KafkaBroker) -> int:
    # What the broker's producer was built with; FastStream keeps its producer
    # settings as the broker's connection arguments.
    settings: typing.Mapping[str, typing.Any] = getattr(broker, "_connection_kwargs", {})
    return int(settings.get("max_request_size") or DEFAULT_MAX_REQUEST_SIZE)
