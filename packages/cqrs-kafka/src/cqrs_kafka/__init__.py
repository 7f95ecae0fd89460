"""cqrs-kafka: Kafka for cqrs-core.

- `KafkaMessageBroker` publishes cqrs `Message`s (outbox relay, request
  bootstrap) with the partition key as record key and id, name, content type
  and trace context as headers; `KafkaProducerAdapter` and
  `kafka_producer_factory` build its producer.
- `subscribe_events` registers a FastStream subscriber that runs cqrs-core's
  consumer pipeline (`cqrs.consumer`) on Kafka: records decoded into events
  for the `EventMediator`, an inbox, retries, permanent failures
  dead-lettered at once, partitions handled side by side, offsets committed
  in batches once settled, and a `ConsumerHealth` for `/health`.
  `kafka_broker` makes the FastStream `KafkaBroker` it runs on, with the
  environment's TLS and SASL (`KafkaSecurity`).
- `KafkaDeadLetterAdmin` lists dead letters and replays them to their
  original topics (`cqrs.admin.DeadLetterAdmin`), recording each replay.
- `LocalKafkaBroker` (`cqrs_kafka.local`) runs a local Kafka-protocol broker
  for development and tests; `cqrs_kafka.testing` has pytest fixtures on it.

Installed next to cqrs-core, the seed import paths `cqrs.message_brokers.kafka`
and `cqrs.adapters.kafka` re-export these names.
"""

from cqrs.consumer import ConsumerHealth, DeadLetterRetry
from cqrs.consumer.delivery import Delivery, current_delivery
from cqrs.consumer.retry import ConsumerRetry
from cqrs.exceptions import NoDeliveryError, PermanentError, UndecodableRecordError
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.consumer import EventSubscriber, kafka_broker, subscribe_events
from cqrs_kafka.dead_letter import KafkaDeadLetters
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin
from cqrs_kafka.errors import (
    BrokerUnavailableError,
    DeadLetterError,
    KafkaAdapterError,
    LocalBrokerError,
    PublishError,
)
from cqrs_kafka.local import LocalKafkaBroker
from cqrs_kafka.producer import KafkaProducerAdapter, ProducerSettings, kafka_producer_factory
from cqrs_kafka.security import KafkaSecurity

__all__ = (
    "KafkaMessageBroker",
    "KafkaProducerAdapter",
    "KafkaSecurity",
    "ProducerSettings",
    "kafka_producer_factory",
    "LocalKafkaBroker",
    "KafkaAdapterError",
    "BrokerUnavailableError",
    "PublishError",
    "LocalBrokerError",
    "DeadLetterError",
    "subscribe_events",
    "kafka_broker",
    "EventSubscriber",
    "KafkaDeadLetters",
    # cqrs-core's consumer names, re-exported
    "ConsumerRetry",
    "DeadLetterRetry",
    "ConsumerHealth",
    "PermanentError",
    "Delivery",
    "current_delivery",
    "NoDeliveryError",
    "UndecodableRecordError",
    "KafkaDeadLetterAdmin",
)
