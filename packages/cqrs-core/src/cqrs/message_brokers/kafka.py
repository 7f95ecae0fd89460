"""`KafkaMessageBroker`, provided by the `cqrs-kafka` distribution.

This module keeps the import path `cqrs.message_brokers.kafka` working; it
re-exports `cqrs_kafka` and names the distribution to install when it is absent (an
installed but broken `cqrs_kafka` raises its own error).
"""

from cqrs._optional import raise_if_installed
from cqrs.exceptions import MissingDependencyError

try:
    from cqrs_kafka import KafkaMessageBroker  # pyright: ignore[reportMissingImports, reportUnknownVariableType]
except ImportError as _missing:
    raise_if_installed(_missing, "cqrs_kafka")  # installed but broken: its own error says why
    raise MissingDependencyError("cqrs.message_brokers.kafka", "cqrs-kafka") from _missing

__all__ = ("KafkaMessageBroker",)
