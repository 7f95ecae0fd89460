"""Idempotent requests: a retried request under the same key gets the first answer."""

from cqrs.idempotency.memory import MemoryIdempotencySession, MemoryIdempotencyStore
from cqrs.idempotency.store import (
    DEFAULT_TTL,
    MAX_KEY_LENGTH,
    IdempotencyConflictError,
    IdempotencyDeadlockError,
    IdempotencyError,
    IdempotencyStore,
    IdempotencyUsageError,
    IdempotentRequest,
    InvalidIdempotencyKeyError,
    answer_of,
    check_ttl,
    fingerprint,
)

__all__ = (
    "DEFAULT_TTL",
    "MAX_KEY_LENGTH",
    "IdempotencyConflictError",
    "IdempotencyDeadlockError",
    "IdempotencyError",
    "IdempotencyStore",
    "IdempotencyUsageError",
    "IdempotentRequest",
    "InvalidIdempotencyKeyError",
    "MemoryIdempotencySession",
    "MemoryIdempotencyStore",
    "answer_of",
    "check_ttl",
    "fingerprint",
)
