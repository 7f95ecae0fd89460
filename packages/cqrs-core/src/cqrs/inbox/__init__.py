"""The inbox: an idempotent consumer records each handled message in its transaction."""

from cqrs.inbox.memory import InboxDeadlockError, MemoryInbox, MemoryInboxSession
from cqrs.inbox.repository import (
    MAX_CONSUMER_LENGTH,
    InboxRecord,
    InboxRepository,
    InvalidInboxKeyError,
)

__all__ = (
    "InboxRepository",
    "InboxRecord",
    "MemoryInbox",
    "MemoryInboxSession",
    "InboxDeadlockError",
    "InvalidInboxKeyError",
    "MAX_CONSUMER_LENGTH",
)
