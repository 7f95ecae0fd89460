"""Orders on Kafka: the topics, and the consumer of the inventory's replies.

- `create_topics` makes the command, reply and `orders.events` topics (and
  their dead-letter topics) that do not exist yet.
- `subscribe_replies` consumes `inventory.replies` in group `orders` into an
  `EventMediator`, whose handler delivers each reply to its saga.

```
await create_topics("localhost:9092")
subscribe_replies(broker, event_mediator, keyring=Keyring.from_env(), in_flight=8)
```
"""

from __future__ import annotations

import typing

from faststream.kafka import KafkaBroker

from cqrs.events.mediator import EventMediator
from cqrs.signing import Keyring
from cqrs_kafka.consumer import ConsumerRetry, EventSubscriber, subscribe_events
from cqrs_kafka.topics import ensure_topics
from orders.adapters.messages import (
    INVENTORY_COMMANDS,
    INVENTORY_REPLIES,
    ORDERS_EVENTS,
    StockRejected,
    StockReleased,
    StockReserved,
)
from orders.application.inventory import STOCK_REJECTED, STOCK_RELEASED, STOCK_RESERVED

__all__ = ("TOPICS", "REPLIES_GROUP", "create_topics", "subscribe_replies")

#: Every topic of the orders-inventory conversation, with its partition count (the
#: orders' own `orders.events` included).
TOPICS: typing.Final[typing.Mapping[str, int]] = {
    INVENTORY_COMMANDS: 3,
    INVENTORY_REPLIES: 3,
    ORDERS_EVENTS: 3,
    f"{INVENTORY_COMMANDS}.dlq": 1,
    f"{INVENTORY_REPLIES}.dlq": 1,
    f"{ORDERS_EVENTS}.dlq": 1,
}
#: The consumer group reading the replies.
REPLIES_GROUP: typing.Final = "orders"


async def create_topics(bootstrap_servers: str) -> None:
    """Create the topics of `TOPICS` that are missing; `BrokerUnavailableError` if no broker."""
    await ensure_topics(bootstrap_servers, TOPICS)


def subscribe_replies(
    broker: KafkaBroker, mediator: EventMediator, *, keyring: Keyring | None, in_flight: int = 1
) -> EventSubscriber:
    """Consume `inventory.replies` into `mediator`; failing replies, and those `keyring`
    does not verify (when given), go to its `.dlq`.
    The subscriber's `health` tells whether it gets on with its records.

    Up to `in_flight` replies of a partition are handled at once, never two of one
    order (a reply's key is its order id): a reply's handling mostly waits on the
    database's commits, and replies to different sagas do not depend on each other's
    order, so their waits overlap. A reply being retried holds up its own order's
    only; the offset stops before it until it is settled.

    No inbox, and no transaction around the handlers: the saga ignores a reply
    it no longer waits for, so a redelivered one is harmless already, and
    `SagaMediator.deliver` writes in transactions of its own (an enclosing one
    would hold SQLite's single write lock while they wait for it).
    """
    return subscribe_events(
        broker,
        INVENTORY_REPLIES,
        group_id=REPLIES_GROUP,
        mediator=mediator,
        events={
            STOCK_RESERVED: StockReserved,
            STOCK_REJECTED: StockRejected,
            # Decoded, so it is not dead-lettered, and dropped: nothing waits for it.
            STOCK_RELEASED: StockReleased,
        },
        retry=ConsumerRetry(attempts=5),
        keyring=keyring,
        max_in_flight=in_flight,
    )
