"""Every error cqrs-kafka raises; each is a `cqrs.exceptions.CQRSError`.

```
KafkaAdapterError
├── BrokerUnavailableError   no broker answered at the bootstrap servers
├── PublishError             a message could not be published
├── LocalBrokerError         the local development broker could not start
├── NoDeliveryError          current_delivery() outside a handler (cqrs_kafka.delivery)
├── UndecodableRecordError   a record that is not an event we know (cqrs_kafka.decoding)
└── DeadLetterError          a record could not be dead-lettered (cqrs_kafka.dead_letter)
```
"""

from __future__ import annotations

from cqrs.exceptions import CQRSError

__all__ = ("KafkaAdapterError", "BrokerUnavailableError", "PublishError", "LocalBrokerError")


class KafkaAdapterError(CQRSError):
    """Base class of the errors of cqrs-kafka."""


class BrokerUnavailableError(KafkaAdapterError, ConnectionError):
    """No Kafka broker answered at the configured bootstrap servers.

    Check `KAFKA_BOOTSTRAP_SERVERS` (or the `bootstrap_servers` argument) and
    that the broker runs; `python -m cqrs_kafka.local` starts one locally.
    """


class PublishError(KafkaAdapterError):
    """The broker did not take a message; the cause is chained."""


class LocalBrokerError(KafkaAdapterError):
    """The local Tansu broker could not be found, started or reached."""
