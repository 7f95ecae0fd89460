"""The Kafka side of `serve`: a FastStream broker consuming `inventory.commands` and the
orders service's notifications (`orders.events`, in a consumer group of their own).

Each command is handled once per message id (the inbox), in a transaction
that commits the inbox record, the stock change and the reply together;
failures are retried, then the record goes to `inventory.commands.dlq`. A
command without a readable order id cannot be decoded (nor answered): it
goes to the dead-letter topic at once (`inventory.adapters.messages.COMMANDS`).
The notifications are handled the same way (once per message id, retried,
then dead-lettered to `orders.events.dlq`), with no reply.
Nothing waits for a sale, so that consumer lets the broker hold an empty fetch
for `SALES_FETCH_MAX_WAIT_MS` (100 ms) or `KAFKA_FETCH_MAX_WAIT_MS` when that
is longer, where the commands' consumer polls every 10 ms by default: on a
broker that holds every fetch for the whole wait (the local one), each idle
poll costs both processes CPU, and the sales' consumer polls a tenth as often.
Both subscriptions report what they cannot get past to `health` (`GET /health`).

```
health = ConsumerHealth()
keyring = Keyring.from_env()  # CQRS_SIGNING_KEYS; None: records unsigned
consumer = create_consumer("localhost:9092", mediator, outbox, schema, Topics(), health, keyring)
await consumer.start()  # in the app's lifespan; consumer.stop() on shutdown
```
"""

from __future__ import annotations

import logging
import typing

from faststream.kafka import KafkaBroker

import cqrs
from cqrs.consumer import ConsumerHealth
from cqrs.signing import Keyring
from cqrs_kafka.consumer import ConsumerRetry, fetch_settings, kafka_broker, subscribe_events
from cqrs_sqla.inbox import SqlAlchemyInbox
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import Schema
from inventory.adapters.kafka import CONSUMER_GROUP, ORDER_EVENTS_GROUP, Topics
from inventory.adapters.messages import COMMANDS, ORDER_EVENTS

__all__ = ("COMMAND_RETRY", "SALES_FETCH_MAX_WAIT_MS", "create_consumer")

COMMAND_RETRY: typing.Final = ConsumerRetry(attempts=5, initial_delay=0.5)
"""Five tries per command, 0.5 s, 1 s, 2 s and 4 s apart, before it is dead-lettered:
a brief database outage passes unnoticed, and a partition is not held up for long."""

SALES_FETCH_MAX_WAIT_MS: typing.Final = 100
"""The shortest wait the broker may hold an empty fetch of `orders.events` for: a sale
recorded up to a tenth of a second later delays nothing, and the consumer asks the
broker a tenth as often as the commands' consumer does."""


def create_consumer(
    bootstrap_servers: str,
    mediator: cqrs.EventMediator,
    outbox: SqlAlchemyOutboxedEventRepository,
    schema: Schema,
    topics: Topics,
    health: ConsumerHealth,
    keyring: Keyring | None,
) -> KafkaBroker:
    """A FastStream `KafkaBroker` (not started) feeding the commands topic and the orders'
    notifications to `mediator`; with `keyring`, a record it does not verify is dead-lettered
    unread.

    The transactions are the outbox's session factory's, so the replies the
    handlers stage are written with the inbox record.
    """
    # FastStream logs through the process's logging (servicekit.logs), not a handler
    # of its own.
    # TLS and SASL from the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* variables.
    broker = kafka_broker(
        bootstrap_servers, client_id=CONSUMER_GROUP, logger=logging.getLogger("inventory.consumer")
    )
    commands_wait = fetch_settings()["fetch_max_wait_ms"]
    sales_wait = max(commands_wait, SALES_FETCH_MAX_WAIT_MS)
    for topic, group, events, dead_letter_topic, fetch_wait in (
        (topics.commands, CONSUMER_GROUP, COMMANDS, topics.commands_dead_letter, commands_wait),
        (
            topics.order_events,
            ORDER_EVENTS_GROUP,
            ORDER_EVENTS,
            topics.order_events_dead_letter,
            sales_wait,
        ),
    ):
        subscribe_events(
            broker,
            topic,
            group_id=group,
            mediator=mediator,
            events=events,
            transaction=outbox.session_factory.begin,
            inbox=SqlAlchemyInbox(schema),
            retry=COMMAND_RETRY,
            dead_letter_topic=dead_letter_topic,
            health=health,
            keyring=keyring,
            fetch_max_wait_ms=fetch_wait,
        )
    return broker
