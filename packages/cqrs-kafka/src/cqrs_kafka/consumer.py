"""`subscribe_events`: a FastStream subscriber that hands Kafka records to an
`EventMediator`, at least once, with an inbox, retries and a dead-letter topic.

For each record, one at a time and in order per partition:

1. The JSON value becomes the `NotificationEvent` class its `event_name`
   names (`cqrs_kafka.decoding`). A record that cannot be decoded goes to the
   dead-letter topic (`cqrs_kafka.dead_letter`).
2. Inside `transaction()`, when given, `inbox.record` drops a message this
   consumer handled before; otherwise the mediator runs the event's handlers,
   which reach the record and the session through `current_delivery()`.
   Leaving the block commits.
3. A failure rolls the transaction back and tries again after a pause
   (`ConsumerRetry`); when the tries are used up, the record goes to the
   dead-letter topic.
4. Only then is the record's offset committed. A consumer that dies before
   it gets the record again; the inbox makes that harmless.

A record that could be neither handled nor dead-lettered is not skipped: the
consumer seeks back to it and reads it again. Stopping the broker (or the
FastStream app) lets the record in progress finish and commit, for up to the
broker's `graceful_timeout`.

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
>>> subscriber.topics
['orders']

Run it with `faststream.FastStream(broker)` or `await broker.start()`.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import logging
import typing
import uuid

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import DefaultSubscriber
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from typing_extensions import TypeVar

from cqrs.backoff import exponential_delays
from cqrs.events.mediator import EventMediator
from cqrs.exceptions import ConfigurationError, EventHandlingError
from cqrs.inbox.repository import InboxRepository, check_key
from cqrs_kafka.dead_letter import Record, dead_letter_topic, publish_dead_letter
from cqrs_kafka.decoding import (
    AnyEvent,
    EventDecoder,
    EventTypes,
    UndecodableRecordError,
    as_text,
    text_headers,
)
from cqrs_kafka.delivery import Delivery, NoDeliveryError, current_delivery, delivering

__all__ = (
    "ConsumerRetry",
    "Delivery",
    "NoDeliveryError",
    "current_delivery",
    "subscribe_events",
)

logger = logging.getLogger("cqrs_kafka.consumer")

SessionT = TypeVar("SessionT", default=typing.Any)
Transaction = collections.abc.Callable[[], contextlib.AbstractAsyncContextManager[SessionT]]

# Options that would break what the consumer promises: records decoded by
# event_name, and offsets committed only once a record was settled.
_RESERVED_OPTIONS = frozenset(
    {
        "batch",
        "ack_policy",
        "auto_commit",
        "no_ack",
        "parser",
        "decoder",
        "key_deserializer",
        "value_deserializer",
    }
)


@dataclasses.dataclass(frozen=True)
class ConsumerRetry:
    """How often a failing record is handled again, and how long to wait in between.

    `attempts` counts every try, the first included; the pause before the
    second is `initial_delay` seconds, each next one `multiplier` times
    longer, at most `max_delay`. A partition waits while its record is retried.

    An error of a `transient` type (by default `ConnectionError` and
    `TimeoutError`, also when it is the cause of the handler's error) means
    "not now" rather than "never": a database or network outage. Such a
    record is retried every `max_delay` seconds until it succeeds or fails
    otherwise, instead of being dead-lettered during the outage.

    >>> list(ConsumerRetry(attempts=5, initial_delay=0.5, max_delay=1.5).delays())
    [0.5, 1.0, 1.5, 1.5]
    """

    attempts: int = 5
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0
    transient: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(
                f"ConsumerRetry.attempts counts the first try too: give 1 or more, "
                f"not {self.attempts}."
            )
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ConfigurationError(
                "ConsumerRetry needs initial_delay >= 0, max_delay >= 0 and multiplier >= 1; "
                f"got {self.initial_delay}, {self.max_delay} and {self.multiplier}."
            )

    def is_transient(self, error: BaseException) -> bool:
        """Whether `error`, or an error it wraps, is one of the `transient` types."""
        seen: set[int] = set()
        pending: list[BaseException] = [error]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if isinstance(current, self.transient):
                return True
            if isinstance(current, EventHandlingError):
                pending.extend(failure[2] for failure in current.failures)
            if current.__cause__ is not None:
                pending.append(current.__cause__)
        return False

    def delays(self) -> collections.abc.Iterator[float]:
        """The pauses between tries, in seconds (one fewer than `attempts`)."""
        return exponential_delays(
            self.attempts,
            initial=self.initial_delay,
            multiplier=self.multiplier,
            maximum=self.max_delay,
        )


def subscribe_events(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    mediator: EventMediator | collections.abc.Callable[[], EventMediator],
    events: EventTypes = (),
    transaction: Transaction[SessionT] | None = None,
    inbox: InboxRepository[SessionT] | None = None,
    retry: ConsumerRetry = ConsumerRetry(),
    dead_letter_topic: str | None = None,
    consumer_name: str | None = None,
    **subscriber_options: typing.Any,
) -> DefaultSubscriber:
    """Subscribe `broker` to `topics` in consumer group `group_id`; return the subscriber.

    - `mediator`: the `EventMediator`, or a function returning it, called for
      each record (cache it, e.g. with `functools.lru_cache`, for one per process).
    - `events`: classes to decode, as `{event_name: class}` or as classes whose
      name is their `event_name` default or their `OutboxedEventMap`
      registration. Names not given are looked up in `OutboxedEventMap`.
    - `transaction`: opens a transaction and yields its session, committing on
      a clean exit (e.g. `async_sessionmaker(engine).begin`). Handlers find the
      session in `current_delivery().session`.
    - `inbox`: drops messages this consumer handled already; needs `transaction`.
    - `retry`: tries per record before it is dead-lettered.
    - `dead_letter_topic`: where failed records go; `<topic>.dlq` by default.
    - `consumer_name`: the consumer's name in the inbox; `group_id` by default.
    - `subscriber_options`: passed to `broker.subscriber` (`auto_offset_reset`
      defaults to "earliest": a new group starts from the first record).

    Raises `ConfigurationError` for an inbox without a transaction, for no
    topics, or for subscriber options it sets itself.
    """
    if not topics:
        raise ConfigurationError("subscribe_events needs at least one topic to consume.")
    if inbox is not None and transaction is None:
        raise ConfigurationError(
            "an inbox records each message in the handler's transaction: pass transaction= "
            "too, e.g. transaction=async_sessionmaker(engine).begin."
        )
    reserved = sorted(_RESERVED_OPTIONS & subscriber_options.keys())
    if reserved:
        raise ConfigurationError(
            f"subscribe_events sets {', '.join(reserved)} itself (records are decoded by "
            f"event_name and committed once handled): leave them out."
        )
    name = group_id if consumer_name is None else consumer_name
    if inbox is not None:
        check_key(name, uuid.UUID(int=0))  # fail now, not on every record
    consumer = _EventConsumer(
        broker=broker,
        mediator=mediator,
        decoder=EventDecoder(events),
        transaction=transaction,
        inbox=inbox,
        retry=retry,
        dead_letter_topic=dead_letter_topic,
        consumer_name=name,
    )
    options: dict[str, typing.Any] = {"auto_offset_reset": "earliest", **subscriber_options}
    subscriber = typing.cast(
        "DefaultSubscriber",
        broker.subscriber(*topics, group_id=group_id, ack_policy=AckPolicy.MANUAL, **options),
    )
    subscriber(consumer.consume, parser=_parse_leniently, decoder=_raw_value)
    return subscriber


async def _parse_leniently(
    record: Record,
    parse: collections.abc.Callable[[Record], collections.abc.Awaitable[StreamMessage[Record]]],
) -> StreamMessage[Record]:
    # FastStream decodes header values as strict UTF-8 and drops a record it cannot
    # parse, and the next record's commit would then pass over it: parse a copy with
    # readable headers instead, keeping the original record as the raw message.
    readable = dataclasses.replace(
        record, headers=[(name, as_text(value).encode()) for name, value in record.headers]
    )
    message = await parse(readable)
    message.raw_message = record
    return message


async def _raw_value(message: StreamMessage[Record]) -> bytes:
    # The consumer decodes values itself: a bad one must reach the dead-letter topic,
    # not fail inside FastStream.
    return message.body


class _EventConsumer(typing.Generic[SessionT]):
    """Settles each record: handled (or a known duplicate), or dead-lettered."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        mediator: EventMediator | collections.abc.Callable[[], EventMediator],
        decoder: EventDecoder,
        transaction: Transaction[SessionT] | None,
        inbox: InboxRepository[SessionT] | None,
        retry: ConsumerRetry,
        dead_letter_topic: str | None,
        consumer_name: str,
    ) -> None:
        self.broker = broker
        self.mediator = mediator
        self.decoder = decoder
        self.transaction = transaction
        self.inbox = inbox
        self.retry = retry
        self.dead_letter_topic = dead_letter_topic
        self.consumer_name = consumer_name

    async def consume(self, value: bytes, message: KafkaMessage) -> None:
        """FastStream's handler: settle the record, then commit its offset."""
        record = typing.cast("Record", message.raw_message)  # pyright: ignore[reportUnknownMemberType]
        try:
            await self.settle(value, record)
        except BaseException:
            # Neither handled nor dead-lettered: seek back so the record is read again
            # and no later commit passes over it.
            await message.nack()
            raise
        await message.ack()

    async def settle(self, value: bytes, record: Record) -> None:
        """Handle the record, or dead-letter it; raise only if neither worked."""
        headers = text_headers(record.headers)
        try:
            decoded = self.decoder.decode(value, headers)
        except UndecodableRecordError as error:
            await self.dead_letter(record, error, attempts=0)
            return
        delivery = Delivery(
            message_id=decoded.message_id,
            event_name=decoded.event.event_name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=None if record.key is None else as_text(record.key),
            headers=headers,
        )
        error = await self.handle(delivery, decoded.event)
        if error is not None:
            await self.dead_letter(record, error, attempts=self.retry.attempts)

    async def handle(self, delivery: Delivery, event: AnyEvent) -> Exception | None:
        """Try the event up to `retry.attempts` times; return the last error, if all failed."""
        pauses = self.retry.delays()
        while True:
            try:
                await self.handle_once(delivery, event)
            except Exception as error:
                pause = next(pauses, None)
                if pause is None:
                    if not self.retry.is_transient(error):
                        return error
                    pause = self.retry.max_delay
                logger.warning(
                    "handling %s %s failed, trying again in %.2fs: %s",
                    delivery.event_name,
                    delivery.message_id,
                    pause,
                    error,
                )
                await asyncio.sleep(pause)
            else:
                return None

    async def handle_once(self, delivery: Delivery, event: AnyEvent) -> None:
        """One try: in the transaction, when there is one, after the inbox check."""
        if self.transaction is None:
            await self.dispatch(delivery, event)
            return
        async with self.transaction() as session:
            if self.inbox is not None and not await self.inbox.record(
                session, self.consumer_name, delivery.message_id
            ):
                logger.info(
                    "%s handled %s %s already; skipping it",
                    self.consumer_name,
                    delivery.event_name,
                    delivery.message_id,
                )
                return
            await self.dispatch(dataclasses.replace(delivery, session=session), event)

    async def dispatch(self, delivery: Delivery, event: AnyEvent) -> None:
        """Run the event's handlers with `delivery` as the current delivery."""
        mediator = self.mediator if isinstance(self.mediator, EventMediator) else self.mediator()
        with delivering(delivery):
            await mediator.send(event)

    async def dead_letter(self, record: Record, error: BaseException, attempts: int) -> None:
        topic = dead_letter_topic(record.topic, self.dead_letter_topic)
        await publish_dead_letter(self.broker, topic, record, error, attempts)
