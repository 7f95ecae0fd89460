"""Kafka producer adapters, provided by the `cqrs-kafka` distribution.

This module keeps the import path `cqrs.adapters.kafka` working; it re-exports
`cqrs_kafka` and names the distribution to install when it is absent (an
installed but broken `cqrs_kafka` raises its own error). `KafkaProducer` is
python-cqrs's name for the producer class; build it with
`kafka_producer_factory(dsn=...)` (it takes bootstrap servers, not an
aiokafka producer).
"""

from cqrs._optional import raise_if_installed
from cqrs.exceptions import MissingDependencyError

try:
    from cqrs_kafka import (  # pyright: ignore[reportMissingImports]
        KafkaProducerAdapter,  # pyright: ignore[reportUnknownVariableType]
        kafka_producer_factory,  # pyright: ignore[reportUnknownVariableType]
    )
except ImportError as _missing:
    raise_if_installed(_missing, "cqrs_kafka")  # installed but broken: its own error says why
    raise MissingDependencyError("cqrs.adapters.kafka", "cqrs-kafka") from _missing

#: python-cqrs's name for the producer class.
KafkaProducer = KafkaProducerAdapter

__all__ = ("KafkaProducerAdapter", "KafkaProducer", "kafka_producer_factory")
