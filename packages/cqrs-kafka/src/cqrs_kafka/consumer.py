"""`subscribe_events`: cqrs's consumer pipeline (`cqrs.consumer`) on Kafka, started and
stopped with a FastStream `KafkaBroker`.

What happens to each record is `cqrs.consumer.EventPipeline`'s: decoded,
handled once (inbox) in a transaction, retried, or dead-lettered (at once
when the failure is permanent). This module binds it to Kafka:

- `EventSubscriber`, the FastStream subscriber `subscribe_events` registers,
  owns an aiokafka consumer in the group; the broker starts and stops it.
  Records are fetched in batches and run by `cqrs.consumer.EventConsumer`:
  partitions side by side, each in order, so a record being retried holds
  up its own partition only.
- `max_in_flight` above 1 (opt-in) settles that many records of a partition
  at once, never two with the same key: each key keeps its order, and a
  record being retried holds up its own key only (and the partition's
  committed offset, below). For handlers whose work on different keys is
  independent and mostly waits on a database.
- Offsets are committed in batches, each one past its partition's settled
  prefix (every record before it settled), so a record that was neither
  handled nor dead-lettered is never passed over, even by records of other
  keys settled after it. A consumer that dies gets its unsettled records again;
  the inbox makes the second delivery harmless.
- Before a rebalance takes partitions away, their tries in progress finish
  and their offsets are committed. Stopping the broker (or the FastStream
  app) does the same for every partition, for up to the broker's
  `graceful_timeout` (then the tries are cancelled and rolled back).
- Dead letters go through the broker's producer (`cqrs_kafka.dead_letter`).
- A record is picked up within milliseconds: the fetch settings default to
  a short wait (table below), since a broker may hold every fetch for the
  whole `fetch_max_wait_ms` (the local broker does) and aiokafka's 500 ms
  would then be the latency of every record. Arguments override them.

| Variable                   | Default | Meaning                                                |
|----------------------------|---------|--------------------------------------------------------|
| `KAFKA_FETCH_MAX_WAIT_MS`  | `10`    | how long the broker may hold a fetch that has no data  |
| `KAFKA_FETCH_MIN_BYTES`    | `1`     | how much data makes the broker answer a fetch at once  |

>>> from faststream.kafka import KafkaBroker
>>> from cqrs.container.di import DIContainer
>>> from cqrs.events import EventMap, EventMediator
>>> from cqrs.inbox import MemoryInbox
>>> broker = KafkaBroker("localhost:9092")
>>> inbox = MemoryInbox()
>>> subscriber = subscribe_events(
...     broker,
...     "orders",
...     group_id="inventory",
...     mediator=EventMediator(EventMap(), DIContainer()),
...     transaction=lambda: inbox.session().begin(),
...     inbox=inbox,
... )
>>> subscriber.topics, subscriber.health.healthy
(['orders'], True)

Run it with `faststream.FastStream(broker)` or `await broker.start()`.
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import typing

import aiokafka
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import TopicPartition
from faststream._internal.broker.registrator import Registrator
from faststream._internal.endpoint.subscriber.call_item import CallsCollection
from faststream.kafka import KafkaBroker
from faststream.kafka.configs import KafkaBrokerConfig
from faststream.kafka.subscriber.config import (
    KafkaSubscriberConfig,
    KafkaSubscriberSpecificationConfig,
)
from faststream.kafka.subscriber.specification import KafkaSubscriberSpecification
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from faststream.middlewares import AckPolicy
from typing_extensions import TypeVar

from cqrs.consumer.dead_letter import DeadLetterRetry
from cqrs.consumer.decoding import EventTypes
from cqrs.consumer.delivery import Delivery, NoDeliveryError, current_delivery
from cqrs.consumer.event_consumer import EventConsumer
from cqrs.consumer.health import ConsumerHealth
from cqrs.consumer.pipeline import EventPipeline, Transaction
from cqrs.consumer.record import Partition, Record
from cqrs.consumer.retry import ConsumerRetry
from cqrs.events.mediator import EventMediator
from cqrs.exceptions import ConfigurationError
from cqrs.inbox.repository import InboxRepository
from cqrs.signing import Keyring
from cqrs_kafka.dead_letter import KafkaDeadLetters
from cqrs_kafka.security import KafkaSecurity

__all__ = (
    "ConsumerRetry",
    "Delivery",
    "EventSubscriber",
    "NoDeliveryError",
    "current_delivery",
    "fetch_settings",
    "kafka_broker",
    "subscribe_events",
)

SessionT = TypeVar("SessionT", default=typing.Any)

_DEFAULT_RETRY = ConsumerRetry()
_DEFAULT_DEAD_LETTER_RETRY = DeadLetterRetry()

# Options that would break what the consumer promises: records decoded by
# event_name, and offsets committed only once a record was settled.
_RESERVED_OPTIONS = frozenset(
    {
        "batch",
        "ack_policy",
        "auto_commit",
        "enable_auto_commit",
        "no_ack",
        "parser",
        "decoder",
        "key_deserializer",
        "value_deserializer",
        "listener",
        "max_workers",
        "pattern",
        "partitions",
    }
)
# aiokafka consumer arguments that come from the broker or from subscribe_events itself.
_FROM_THE_BROKER = frozenset(
    {"self", "topics", "loop", "bootstrap_servers", "client_id", "group_id"}
)
_CONSUMER_OPTIONS = frozenset(inspect.signature(aiokafka.AIOKafkaConsumer).parameters) - (
    _FROM_THE_BROKER | _RESERVED_OPTIONS
)
_SCHEMA_OPTIONS = frozenset({"title", "description", "include_in_schema"})
#: The fetch settings' environment variables and defaults (module docstring).
_FETCH_DEFAULTS: typing.Final = {
    "fetch_max_wait_ms": ("KAFKA_FETCH_MAX_WAIT_MS", 10),
    "fetch_min_bytes": ("KAFKA_FETCH_MIN_BYTES", 1),
}


def subscribe_events(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    mediator: EventMediator | collections.abc.Callable[[], EventMediator],
    events: EventTypes = (),
    transaction: Transaction[SessionT] | None = None,
    inbox: InboxRepository[SessionT] | None = None,
    retry: ConsumerRetry = _DEFAULT_RETRY,
    dead_letter_topic: str | None = None,
    dead_letter_retry: DeadLetterRetry = _DEFAULT_DEAD_LETTER_RETRY,
    consumer_name: str | None = None,
    health: ConsumerHealth | None = None,
    max_buffered: int = 100,
    max_in_flight: int = 1,
    keyring: Keyring | None = None,
    **options: typing.Any,
) -> EventSubscriber:
    """Subscribe `broker` to `topics` in consumer group `group_id`; return the subscriber.

    - `mediator`, `events`, `transaction`, `inbox`, `retry`,
      `dead_letter_topic` (`<topic>.dlq` by default) and `dead_letter_retry`:
      as for `cqrs.consumer.EventPipeline`.
    - `consumer_name`: the consumer's name in the inbox; `group_id` by default.
    - `health`: where the consumer reports troubles (`subscriber.health`); a
      new `ConsumerHealth` by default. Put it in the service's `/health`.
    - `max_buffered`: records a partition holds waiting (or settled behind
      one that is not) before it is paused.
    - `max_in_flight`: records of one partition settled at once, with
      different keys (module docstring); 1, one at a time, by default.
    - `keyring`: when given, only records signed by one of its keys are
      handled; the others are dead-lettered (`cqrs.signing`).
    - `options`: `aiokafka.AIOKafkaConsumer` arguments (`session_timeout_ms`,
      ...; `auto_offset_reset` defaults to "earliest": a new group starts
      from the first record; `fetch_max_wait_ms` and `fetch_min_bytes`
      default to the module's environment variables), and the AsyncAPI
      `title`, `description` and `include_in_schema`.

    Raises `ConfigurationError` for an inbox without a transaction, for no
    topics, for bounds below 1 (2 for `max_buffered`), for options it sets
    itself or does not know, and for a fetch variable that is not a whole
    number.
    """
    if not topics:
        raise ConfigurationError("subscribe_events needs at least one topic to consume.")
    _check_options(options)
    pipeline = EventPipeline[SessionT](
        mediator=mediator,
        dead_letters=KafkaDeadLetters(broker),
        consumer_name=group_id if consumer_name is None else consumer_name,
        events=events,
        transaction=transaction,
        inbox=inbox,
        retry=retry,
        dead_letter_topic=dead_letter_topic,
        dead_letter_retry=dead_letter_retry,
        health=health,
        keyring=keyring,
    )
    schema = {name: options.pop(name) for name in _SCHEMA_OPTIONS & options.keys()}
    outer = typing.cast("KafkaBrokerConfig", broker.config)
    revocations = _ReleaseOnRevoke()
    calls = CallsCollection[typing.Any]()
    subscriber = EventSubscriber(
        KafkaSubscriberConfig(
            topics=topics,
            group_id=group_id,
            connection_args={"auto_offset_reset": "earliest", **fetch_settings(), **options},
            listener=revocations,
            no_reply=True,
            _outer_config=outer,
            _ack_policy=AckPolicy.MANUAL,
        ),
        KafkaSubscriberSpecification(
            _outer_config=outer,
            calls=calls,
            specification_config=KafkaSubscriberSpecificationConfig(
                topics=topics,
                title_=schema.get("title"),
                description_=schema.get("description"),
                include_in_schema=schema.get("include_in_schema", True),
            ),
        ),
        calls,
        pipeline=pipeline,
        max_buffered=max_buffered,
        max_in_flight=max_in_flight,
    )
    revocations.subscriber = subscriber
    # FastStream builds its own subscribers in a factory with no place for another
    # class; this registers ours the way that factory does.
    register = typing.cast(
        "collections.abc.Callable[[KafkaBroker, EventSubscriber], object]",
        Registrator.subscriber,  # pyright: ignore[reportUnknownMemberType]
    )
    register(broker, subscriber)
    return subscriber


def _check_options(options: collections.abc.Mapping[str, typing.Any]) -> None:
    reserved = sorted(_RESERVED_OPTIONS & options.keys())
    if reserved:
        raise ConfigurationError(
            f"subscribe_events sets {', '.join(reserved)} itself (records are decoded by "
            f"event_name, partitions consumed side by side and committed once settled): "
            f"leave them out."
        )
    unknown = sorted(options.keys() - _CONSUMER_OPTIONS - _SCHEMA_OPTIONS - _FROM_THE_BROKER)
    if unknown:
        raise ConfigurationError(
            f"subscribe_events does not know {', '.join(unknown)}: it takes "
            f"aiokafka.AIOKafkaConsumer arguments and title, description, include_in_schema."
        )
    from_broker = sorted(_FROM_THE_BROKER & options.keys())
    if from_broker:
        raise ConfigurationError(
            f"{', '.join(from_broker)} come from the KafkaBroker and subscribe_events' own "
            f"arguments: leave them out."
        )


def fetch_settings() -> dict[str, int]:
    """The fetch settings `subscribe_events` gives its consumer unless told otherwise:
    from `KAFKA_FETCH_MAX_WAIT_MS` and `KAFKA_FETCH_MIN_BYTES`, else 10 ms and 1 byte.

    >>> fetch_settings()
    {'fetch_max_wait_ms': 10, 'fetch_min_bytes': 1}
    """
    settings: dict[str, int] = {}
    for option, (variable, default) in _FETCH_DEFAULTS.items():
        raw = os.environ.get(variable, "").strip()
        if not raw:
            settings[option] = default
        elif raw.isdigit():
            settings[option] = int(raw)
        else:
            raise ConfigurationError(
                f"{variable}={raw!r} is not a whole number; set it to a count of "
                f"{'milliseconds' if option.endswith('_ms') else 'bytes'} (default {default})."
            )
    return settings


def kafka_broker(
    bootstrap_servers: str | collections.abc.Sequence[str],
    *,
    security: KafkaSecurity | None = None,
    **options: typing.Any,
) -> KafkaBroker:
    """A FastStream `KafkaBroker` (not connected) for `subscribe_events`, with TLS and SASL
    from `security`, else from the environment's `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`
    and `KAFKA_SSL_*` (`cqrs_kafka.security`).

    The security reaches every client the broker makes: the subscribers'
    consumers and the producer that sends their dead letters. `options` are
    the other `KafkaBroker` arguments (`client_id`, `logger`...). Raises
    `ConfigurationError` for security settings that cannot work.

    >>> broker = kafka_broker("localhost:9092", client_id="inventory")
    >>> broker.config.client_id
    'inventory'
    """
    chosen = security or KafkaSecurity.from_env()
    return KafkaBroker(bootstrap_servers, security=chosen.faststream(), **options)


class EventSubscriber(DefaultSubscriber):
    """The FastStream subscriber of `subscribe_events`: an aiokafka consumer whose records
    an `EventConsumer` settles, started and stopped with its broker.

    `health` tells whether the consumer gets on with its records.
    """

    def __init__(
        self,
        config: KafkaSubscriberConfig,
        specification: KafkaSubscriberSpecification,
        calls: CallsCollection[typing.Any],
        *,
        pipeline: EventPipeline[typing.Any],
        max_buffered: int,
        max_in_flight: int,
    ) -> None:
        super().__init__(config, specification, calls)  # pyright: ignore[reportUnknownMemberType]
        self.pipeline = pipeline
        self._transport = _KafkaTransport()
        # Built now, so that settings that cannot work fail when subscribing.
        self._events = EventConsumer(
            self._transport,
            pipeline,
            max_buffered=max_buffered,
            max_in_flight=max_in_flight,
            # The broker's graceful_timeout; None means FastStream does not wait at all.
            stop_timeout=self._outer_config.graceful_timeout or 0.0,
        )

    @property
    def health(self) -> ConsumerHealth:
        """The consumer's `ConsumerHealth`, for a `/health` route."""
        return self.pipeline.health

    async def start(self) -> None:
        """Join the group (FastStream's part), then fetch and settle records."""
        await super().start()
        assert self.consumer is not None  # set by the start above
        self._transport.consumer = self.consumer
        self._events.start()

    async def stop(self) -> None:
        """Let the tries in progress finish (up to the broker's `graceful_timeout`), commit,
        then leave the group."""
        self.running = False
        await self._events.stop()
        await super().stop()

    async def release(self, partitions: collections.abc.Collection[Partition]) -> None:
        """Give up `partitions` before a rebalance moves them (see `EventConsumer.release`)."""
        await self._events.release(partitions)


class _ReleaseOnRevoke(ConsumerRebalanceListener):
    """Gives partitions up before a rebalance takes them away.

    aiokafka awaits the listener's methods when they are coroutines (its base
    class declares them plain).
    """

    subscriber: EventSubscriber | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        if self.subscriber is not None:
            await self.subscriber.release([Partition(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        """Nothing to do: the consumer starts each partition at its committed offset."""


_Batches = dict[TopicPartition, list[aiokafka.ConsumerRecord[bytes, bytes]]]


class _KafkaTransport:
    """`cqrs.consumer.ConsumerTransport` on an aiokafka consumer in a group."""

    #: How long an empty fetch waits, in milliseconds (the caller just asks again).
    FETCH_TIMEOUT_MS = 1000

    #: The subscriber's aiokafka consumer, once it has started.
    consumer: aiokafka.AIOKafkaConsumer

    async def fetch(self, max_records: int) -> list[Record]:
        getmany = typing.cast(
            "collections.abc.Callable[..., collections.abc.Awaitable[_Batches]]",
            self.consumer.getmany,  # pyright: ignore[reportUnknownMemberType]
        )
        batches = await getmany(timeout_ms=self.FETCH_TIMEOUT_MS, max_records=max_records)
        return [record for batch in batches.values() for record in batch]

    def end_offset(self, partition: Partition) -> int | None:
        """The partition's high watermark as of the last fetch (`EndOffsets`)."""
        return self.consumer.highwater(TopicPartition(*partition))  # pyright: ignore[reportUnknownMemberType]

    def pause(self, partition: Partition) -> None:
        tp = TopicPartition(*partition)
        if tp in self.consumer.assignment():
            self.consumer.pause(tp)  # pyright: ignore[reportUnknownMemberType]

    def resume(self, partition: Partition) -> None:
        tp = TopicPartition(*partition)
        if tp in self.consumer.assignment():
            self.consumer.resume(tp)  # pyright: ignore[reportUnknownMemberType]

    async def commit(self, positions: collections.abc.Mapping[Partition, int]) -> None:
        assigned = self.consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in ((TopicPartition(*p), offset) for p, offset in positions.items())
            if tp in assigned
        }
        if offsets:
            await self.consumer.commit(offsets)  # pyright: ignore[reportUnknownMemberType]
