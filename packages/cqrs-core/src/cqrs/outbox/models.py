"""What the outbox holds: one row per message, with its delivery state."""

from __future__ import annotations

import dataclasses
import datetime
import enum

from cqrs.message_brokers.protocol import Message

__all__ = ("OutboxStatus", "OutboxedEvent")


class OutboxStatus(str, enum.Enum):
    """Delivery state of an outbox row.

    `pending` rows wait for the relay, which makes them `published`, or `dead`
    after too many failed attempts. An operator replays a dead row (pending
    again) or `discarded` it: kept, never published.
    """

    PENDING = "pending"
    PUBLISHED = "published"
    DEAD = "dead"
    DISCARDED = "discarded"


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxedEvent:
    """A message stored in the outbox.

    `id` grows with every write, so it orders rows; `message.key` is the
    partition key whose rows are published in `id` order.
    """

    id: int
    message: Message
    created_at: datetime.datetime
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    #: When a failed row may be tried again; `None`: due now.
    next_attempt_at: datetime.datetime | None = None
    last_error: str | None = None
