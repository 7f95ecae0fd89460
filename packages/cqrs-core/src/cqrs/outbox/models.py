"""What the outbox holds: one row per message, with its delivery state."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing

from cqrs.message_brokers.protocol import Message
from cqrs.outbox.map import OutboxedEventMap
from cqrs.outbox.repository import UnregisteredEventError

__all__ = ("OutboxStatus", "EventStatus", "OutboxedEvent")


class OutboxStatus(str, enum.Enum):
    """Delivery state of an outbox row.

    `pending` rows wait for the relay, which makes them `published`, or `dead`
    after too many failed attempts. An operator replays a dead row (pending
    again) or `discarded` it: kept, never published.

    `NEW`, `PRODUCED` and `NOT_PRODUCED` are python-cqrs's names (its
    `EventStatus`), aliases of `PENDING`, `PUBLISHED` and `DEAD`.
    """

    PENDING = "pending"
    PUBLISHED = "published"
    DEAD = "dead"
    DISCARDED = "discarded"
    # Same values, so these are aliases, not members of their own.
    NEW = PENDING
    PRODUCED = PUBLISHED
    NOT_PRODUCED = DEAD


#: python-cqrs's name for `OutboxStatus`.
EventStatus = OutboxStatus


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

    @property
    def topic(self) -> str:
        """The topic the row is published to (python-cqrs kept it on the row)."""
        return self.message.topic

    @property
    def event(self) -> typing.Any:
        """The stored event, rebuilt with the class registered under its name in
        `OutboxedEventMap` (python-cqrs's rows held the event itself).

        Raises `UnregisteredEventError` when no class is registered under the name.
        """
        event_type = OutboxedEventMap.get(self.message.message_name)
        if event_type is None:
            raise UnregisteredEventError(
                f"outbox row {self.id} holds a {self.message.message_name!r} event, which "
                f"is not registered; call cqrs.OutboxedEventMap.register(name, EventClass)."
            )
        return event_type.from_dict(**self.message.payload)
