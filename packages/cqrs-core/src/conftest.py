"""Doctest collection for the cqrs sources (not shipped: only src/cqrs is packaged)."""

import importlib.util

# These modules re-export cqrs-kafka and raise ImportError without it.
collect_ignore = (
    []
    if importlib.util.find_spec("cqrs_kafka")
    else ["cqrs/adapters/kafka.py", "cqrs/message_brokers/kafka.py"]
)
