"""The dead-letter topic: where a record goes that cannot be decoded or whose handler
keeps failing, so that the records behind it are not held up for ever.

A dead letter is the original record, value and key unchanged, with the
original headers and these added:

| Header                   | Value                                              |
|--------------------------|----------------------------------------------------|
| `x-dead-letter-reason`   | the error's text                                   |
| `x-dead-letter-error`    | the error's class, with its module                 |
| `x-original-topic`       | the topic the record was consumed from             |
| `x-original-partition`   | its partition                                      |
| `x-original-offset`      | its offset                                         |
| `x-dead-letter-attempts` | how often the handler ran (0: it was undecodable)  |

To replay dead letters once the cause is fixed, publish their values and
keys back to `x-original-topic`. Header values are text: bytes that are not
UTF-8 are replaced.

>>> dead_letter_topic("orders", None), dead_letter_topic("orders", "all.dlq")
('orders.dlq', 'all.dlq')
"""

from __future__ import annotations

import logging

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from cqrs_kafka.decoding import text_headers
from cqrs_kafka.errors import KafkaAdapterError

__all__ = (
    "DeadLetterError",
    "dead_letter_topic",
    "dead_letter_headers",
    "publish_dead_letter",
    "REASON_HEADER",
    "ERROR_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_OFFSET_HEADER",
    "ATTEMPTS_HEADER",
)

# The consumer's logger: one name to configure for everything a consumer reports.
logger = logging.getLogger("cqrs_kafka.consumer")

REASON_HEADER = "x-dead-letter-reason"
ERROR_HEADER = "x-dead-letter-error"
ORIGINAL_TOPIC_HEADER = "x-original-topic"
ORIGINAL_PARTITION_HEADER = "x-original-partition"
ORIGINAL_OFFSET_HEADER = "x-original-offset"
ATTEMPTS_HEADER = "x-dead-letter-attempts"

#: A record as the consumer reads it: key and value as bytes.
Record = ConsumerRecord[bytes, bytes]


class DeadLetterError(KafkaAdapterError):
    """A record could not be published to its dead-letter topic; the cause is chained.

    The record's offset is not committed: the consumer reads it again. Check
    that the dead-letter topic exists (`cqrs_kafka.topics.ensure_topics`) and
    that the consumer may write to it.
    """


def dead_letter_topic(topic: str, configured: str | None) -> str:
    """Where dead letters of `topic` go: `configured`, else `<topic>.dlq`."""
    return configured if configured is not None else f"{topic}.dlq"


def dead_letter_headers(record: Record, error: BaseException, attempts: int) -> dict[str, str]:
    """The headers of `record`'s dead letter: its own, and why and whence it came."""
    error_type = type(error)
    return {
        **text_headers(record.headers),
        REASON_HEADER: str(error) or error_type.__name__,
        ERROR_HEADER: f"{error_type.__module__}.{error_type.__qualname__}",
        ORIGINAL_TOPIC_HEADER: record.topic,
        ORIGINAL_PARTITION_HEADER: str(record.partition),
        ORIGINAL_OFFSET_HEADER: str(record.offset),
        ATTEMPTS_HEADER: str(attempts),
    }


async def publish_dead_letter(
    broker: KafkaBroker, topic: str, record: Record, error: BaseException, attempts: int
) -> None:
    """Publish `record` to `topic` as a dead letter and wait until the broker has it.

    Raises `DeadLetterError` when it could not be published.
    """
    logger.error(
        "dead-lettering %s[%d]@%d to %s after %d attempt(s): %s",
        record.topic,
        record.partition,
        record.offset,
        topic,
        attempts,
        error,
    )
    try:
        await broker.publish(
            record.value or b"",
            topic=topic,
            key=record.key,
            headers=dead_letter_headers(record, error, attempts),
        )
    except Exception as exc:
        raise DeadLetterError(
            f"{record.topic}[{record.partition}]@{record.offset} could not be published to "
            f"the dead-letter topic {topic!r}: {type(exc).__name__}: {exc}"
        ) from exc
