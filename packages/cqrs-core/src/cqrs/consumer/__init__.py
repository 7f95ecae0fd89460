"""Consuming events from a broker, whatever the broker: decode, inbox, handle, retry,
dead-letter, one worker per partition.

- `EventPipeline` settles one record: decoded into its `NotificationEvent`,
  handled in a transaction after the inbox check, retried (`ConsumerRetry`)
  or dead-lettered (`DeadLetter`), with `current_delivery()` set for the
  handlers.
- `EventConsumer` runs a pipeline over a `ConsumerTransport`: partitions side
  by side, each in order, positions committed in batches once settled.
- `ConsumerHealth` reports what a consumer cannot get past by itself.
- `MemoryBroker` is the in-memory transport; cqrs-kafka's `subscribe_events`
  runs the same pipeline on Kafka. `cqrs.testing.consumer.ConsumerContract`
  is the contract a transport adapter proves itself with.
"""

from cqrs.consumer.dead_letter import (
    DeadLetter,
    DeadLetterPublisher,
    DeadLetterRecord,
    DeadLetterRetry,
    dead_letter_topic,
)
from cqrs.consumer.decoding import DecodedRecord, EventDecoder, EventTypes
from cqrs.consumer.delivery import Delivery, current_delivery
from cqrs.consumer.event_consumer import EventConsumer
from cqrs.consumer.health import ConsumerHealth
from cqrs.consumer.memory import MemoryBroker, MemoryRecord, MemoryTransport
from cqrs.consumer.pipeline import EventPipeline, Outcome, Transaction
from cqrs.consumer.record import Partition, Record
from cqrs.consumer.retry import DEFAULT_PERMANENT, DEFAULT_TRANSIENT, ConsumerRetry
from cqrs.consumer.transport import ConsumerTransport
from cqrs.exceptions import NoDeliveryError, PermanentError, UndecodableRecordError

__all__ = (
    # running a consumer
    "EventConsumer",
    "EventPipeline",
    "Outcome",
    "Transaction",
    "ConsumerHealth",
    # what handlers see
    "Delivery",
    "current_delivery",
    "NoDeliveryError",
    # failures
    "ConsumerRetry",
    "PermanentError",
    "DEFAULT_PERMANENT",
    "DEFAULT_TRANSIENT",
    "DeadLetter",
    "DeadLetterRecord",
    "DeadLetterRetry",
    "dead_letter_topic",
    # decoding
    "EventDecoder",
    "EventTypes",
    "DecodedRecord",
    "UndecodableRecordError",
    # the transport port and the in-memory transport
    "ConsumerTransport",
    "DeadLetterPublisher",
    "Record",
    "Partition",
    "MemoryBroker",
    "MemoryRecord",
    "MemoryTransport",
)
