"""Every error cqrs-kafka raises, in one tree; each is a `cqrs.exceptions.CQRSError`.

```
KafkaAdapterError(CQRSError)                 base of the errors of cqrs-kafka
├── BrokerUnavailableError(ConnectionError)  no broker answered at the bootstrap servers
├── PublishError                             a message could not be published
├── LocalBrokerError                         the local development broker could not start
└── DeadLetterError                          a record could not be dead-lettered (tried again)
```

A test (`cqrs.testing.error_tree`) holds this tree to the classes. The
consumer's other errors are cqrs-core's (`cqrs.exceptions`), which
`cqrs_kafka` re-exports: `NoDeliveryError` (`current_delivery()` outside a
handler) and `UndecodableRecordError` (a record that is no event we know; a
`PermanentError`).
"""

from __future__ import annotations

from cqrs.exceptions import CQRSError

__all__ = (
    "KafkaAdapterError",
    "BrokerUnavailableError",
    "PublishError",
    "LocalBrokerError",
    "DeadLetterError",
)


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


class DeadLetterError(KafkaAdapterError):
    """A record could not be published to its dead-letter topic; the cause is chained.

    The record's offset is not committed, and its partition waits while the
    consumer tries again after a growing pause (its health turns unhealthy
    if this lasts). Check that the dead-letter topic exists
    (`cqrs_kafka.topics.ensure_topics`) and that the consumer may write to it.
    """
