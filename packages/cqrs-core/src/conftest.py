"""Doctest collection for the cqrs sources (not shipped: only src/cqrs is packaged)."""

import importlib.util

# These modules re-export an adapter distribution and raise ImportError without it.
_REEXPORTS = {
    "cqrs_kafka": ["cqrs/adapters/kafka.py", "cqrs/message_brokers/kafka.py"],
    "cqrs_sqla": ["cqrs/saga/storage/sqlalchemy.py", "cqrs/outbox/sqlalchemy.py"],
}

collect_ignore = [
    path
    for distribution, paths in _REEXPORTS.items()
    if not importlib.util.find_spec(distribution)
    for path in paths
]
