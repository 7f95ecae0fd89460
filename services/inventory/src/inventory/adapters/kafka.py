"""The inventory on Kafka: its topics, and the consumer's unit of work.

- `Topics`: the command and reply topics with their dead-letter topics and
  partition counts; `ensure_inventory_topics` creates the missing ones.
- `DeliveryUnitOfWorkFactory`: handlers of consumed commands work in the
  transaction the consumer opened for the record, so the inbox record, the
  stock change and the reply commit together.

```
await ensure_inventory_topics("localhost:9092", Topics())
```
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import typing

from sqlalchemy.ext.asyncio import AsyncSession

from cqrs_kafka.delivery import current_delivery
from cqrs_kafka.topics import ensure_topics
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from inventory.adapters.unit_of_work import SqlUnitOfWork, storage_errors

__all__ = (
    "CONSUMER_GROUP",
    "ORDER_EVENTS_GROUP",
    "DeliveryUnitOfWorkFactory",
    "Topics",
    "ensure_inventory_topics",
)

CONSUMER_GROUP: typing.Final = "inventory"
"""The consumer group reading the command topic (and the inbox's consumer name)."""
ORDER_EVENTS_GROUP: typing.Final = "inventory.sales"
"""The consumer group reading the orders service's notifications (and its inbox name)."""


@dataclasses.dataclass(frozen=True)
class Topics:
    """The topics the inventory reads and writes (tests give them names of their own).

    >>> Topics().partitions()
    {'inventory.commands': 3, 'inventory.replies': 3, 'orders.events': 3, \
'inventory.commands.dlq': 1, 'inventory.replies.dlq': 1, 'orders.events.dlq': 1}
    """

    commands: str = "inventory.commands"
    replies: str = "inventory.replies"
    #: The orders service's notifications (its topic; inventory consumes it).
    order_events: str = "orders.events"

    @property
    def commands_dead_letter(self) -> str:
        """Where commands that cannot be handled end up."""
        return f"{self.commands}.dlq"

    @property
    def replies_dead_letter(self) -> str:
        """Where the orders service puts replies it cannot handle."""
        return f"{self.replies}.dlq"

    @property
    def order_events_dead_letter(self) -> str:
        """Where the orders service's notifications that cannot be handled end up."""
        return f"{self.order_events}.dlq"

    def partitions(self) -> dict[str, int]:
        """Every topic with its partition count (dead-letter topics have one)."""
        return {
            self.commands: 3,
            self.replies: 3,
            self.order_events: 3,
            self.commands_dead_letter: 1,
            self.replies_dead_letter: 1,
            self.order_events_dead_letter: 1,
        }


async def ensure_inventory_topics(bootstrap_servers: str, topics: Topics) -> None:
    """Create the topics of `topics` that do not exist yet.

    Raises `cqrs_kafka.BrokerUnavailableError` when no broker answers.
    """
    await ensure_topics(bootstrap_servers, topics.partitions())


class DeliveryUnitOfWorkFactory:
    """`UnitOfWorkFactory` joining the transaction of the record being consumed.

    The consumer commits or rolls that transaction back; the unit of work only
    lends its session to the repositories and replies.
    """

    def __init__(self, outbox: SqlAlchemyOutboxedEventRepository, replies_topic: str) -> None:
        self._outbox = outbox
        self._replies_topic = replies_topic

    @contextlib.asynccontextmanager
    async def __call__(self) -> collections.abc.AsyncGenerator[SqlUnitOfWork, None]:
        # The consumer is subscribed with a transaction, so its deliveries carry a session.
        session = typing.cast(AsyncSession, current_delivery().session)
        with storage_errors():
            yield SqlUnitOfWork(session, self._outbox, self._replies_topic)
