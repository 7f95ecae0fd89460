"""cqrs-kafka: Kafka for cqrs-core.

- `KafkaMessageBroker` publishes cqrs `Message`s (outbox relay, request
  bootstrap) with the partition key as record key and id, name, content type
  and trace context as headers; `KafkaProducerAdapter` and
  `kafka_producer_factory` build its producer.
- `subscribe_events` registers a FastStream subscriber that decodes records
  into events for the `EventMediator`, with an inbox, retries, a dead-letter
  topic and offsets committed only after the handler's transaction.
- `KafkaDeadLetterAdmin` lists dead letters and replays them to their
  original topics (`cqrs.admin.DeadLetterAdmin`), recording each replay.
- `LocalKafkaBroker` (`cqrs_kafka.local`) runs a local Kafka-protocol broker
  for development and tests; `cqrs_kafka.testing` has pytest fixtures on it.

Installed next to cqrs-core, the seed import paths `cqrs.message_brokers.kafka`
and `cqrs.adapters.kafka` re-export these names.
"""

from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.consumer import (
    ConsumerRetry,
    Delivery,
    NoDeliveryError,
    current_delivery,
    subscribe_events,
)
from cqrs_kafka.dead_letter import DeadLetterError
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.decoding import UndecodableRecordError
from cqrs_kafka.errors import (
    BrokerUnavailableError,
    KafkaAdapterError,
    LocalBrokerError,
    PublishError,
)
from cqrs_kafka.local import LocalKafkaBroker
from cqrs_kafka.producer import KafkaProducerAdapter, ProducerSettings, kafka_producer_factory

__all__ = (
    "KafkaMessageBroker",
    "KafkaProducerAdapter",
    "ProducerSettings",
    "kafka_producer_factory",
    "LocalKafkaBroker",
    "KafkaAdapterError",
    "BrokerUnavailableError",
    "PublishError",
    "LocalBrokerError",
    "subscribe_events",
    "ConsumerRetry",
    "Delivery",
    "current_delivery",
    "NoDeliveryError",
    "UndecodableRecordError",
    "DeadLetterError",
    "KafkaDeadLetterAdmin",
)
