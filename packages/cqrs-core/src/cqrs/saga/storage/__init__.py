"""Saga storages: the port and its in-memory implementation."""

from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("ISagaStorage", "MemorySagaStorage")
