"""`EventPipeline`: what happens to one consumed record, whatever the broker.

1. With a `keyring`, the record's signature is checked (`cqrs.signing`);
   then the value becomes the `NotificationEvent` its `event_name` names
   (`cqrs.consumer.decoding`). A record unsigned, forged or undecodable is
   dead-lettered at once, before any handler runs.
2. Inside `transaction()`, when given, `inbox.record` drops a message this
   consumer handled before; otherwise the mediator runs the event's handlers,
   which reach the record and the session through `current_delivery()`.
   Leaving the block commits.
3. A failure rolls the transaction back. It is dead-lettered at once when
   permanent, retried with backoff otherwise, waited out when transient
   (`ConsumerRetry`); a record whose tries are used up is dead-lettered.
4. A dead letter the broker does not take is tried again after a growing
   pause (`DeadLetterRetry`), for as long as it takes: logged once per
   failure and reported to `ConsumerHealth`, never skipped.

`settle` returns once the record is settled (handled, a known duplicate, or
dead-lettered), or abandoned because its partition is being released (a
rebalance, a shutdown): the try in progress finishes, no other one starts,
and the record stays unsettled, to be consumed again.

>>> import asyncio
>>> from cqrs.consumer.memory import MemoryBroker, MemoryRecord
>>> from cqrs.consumer.record import text_headers
>>> from cqrs.events import EventMap, EventMediator
>>> from cqrs.container.di import DIContainer
>>> broker = MemoryBroker()
>>> pipeline = EventPipeline(
...     mediator=EventMediator(EventMap(), DIContainer()),
...     dead_letters=broker,
...     consumer_name="inventory",
... )
>>> record = MemoryRecord("orders", 0, 0, None, b"{not json")
>>> asyncio.run(pipeline.settle(record, released=asyncio.Event()))
<Outcome.DEAD_LETTERED: 'dead-lettered'>
>>> [text_headers(dead.headers)["x-dead-letter-attempts"] for dead in broker.records("orders.dlq")]
['0']
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import enum
import logging
import typing
import uuid

from typing_extensions import TypeVar

from cqrs.consumer.dead_letter import (
    DeadLetter,
    DeadLetterPublisher,
    DeadLetterRetry,
    bounded_text,
    dead_letter_topic,
)
from cqrs.consumer.decoding import AnyEvent, EventDecoder, EventTypes
from cqrs.consumer.delivery import Delivery, delivering
from cqrs.consumer.health import ConsumerHealth
from cqrs.consumer.record import Record, as_text, text_headers
from cqrs.consumer.retry import ConsumerRetry
from cqrs.events.mediator import EventMediator
from cqrs.exceptions import ConfigurationError, UndecodableRecordError
from cqrs.inbox.repository import InboxRepository, check_key
from cqrs.signing import Keyring, SignatureError
from cqrs.tracing import opentelemetry_installed, telemetry_recording

if typing.TYPE_CHECKING:
    from cqrs.telemetry.consumer import ConsumerTelemetry

__all__ = ("EventPipeline", "Outcome", "Transaction")

logger = logging.getLogger("cqrs.consumer")

SessionT = TypeVar("SessionT", default=typing.Any)
#: Opens a transaction and yields its session, committing on a clean exit.
Transaction = collections.abc.Callable[[], contextlib.AbstractAsyncContextManager[SessionT]]

_DEFAULT_RETRY = ConsumerRetry()
_DEFAULT_DEAD_LETTER_RETRY = DeadLetterRetry()


class Outcome(enum.Enum):
    """How `EventPipeline.settle` left a record."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead-lettered"
    #: Not settled: its partition was released first. It must be consumed again.
    ABANDONED = "abandoned"

    @property
    def settled(self) -> bool:
        """Whether the record is done with, so its position may be committed."""
        return self is not Outcome.ABANDONED


@dataclasses.dataclass(frozen=True)
class _Failed:
    """Every try of a record failed: the last error, and how many tries ran."""

    error: BaseException
    attempts: int


class EventPipeline(typing.Generic[SessionT]):
    """Settles consumed records: see the module docstring.

    - `mediator`: the `EventMediator`, or a function returning it, called for
      each record (cache it, e.g. with `functools.lru_cache`, for one per process).
    - `dead_letters`: publishes the records given up on.
    - `consumer_name`: this consumer's name in the inbox (a consumer group's
      name, usually).
    - `events`: classes to decode, as `{event_name: class}` or as classes whose
      name is their `event_name` default or their `OutboxedEventMap`
      registration. Names not given are looked up in `OutboxedEventMap`.
    - `transaction`: opens a transaction and yields its session, committing on
      a clean exit (e.g. `async_sessionmaker(engine).begin`). Handlers find the
      session in `current_delivery().session`.
    - `inbox`: drops messages this consumer handled already; needs `transaction`.
    - `retry`: tries per record, and which errors are permanent or transient.
    - `dead_letter_topic`: where failed records go; `<topic>.dlq` by default.
    - `dead_letter_retry`: the pauses between tries of a dead letter the
      broker did not take.
    - `health`: where troubles are reported; a new `ConsumerHealth` by default.
    - `keyring`: when given, records must be signed by one of its keys
      (`cqrs.signing`); others are dead-lettered with a `SignatureError`.

    Raises `ConfigurationError` for an inbox without a transaction, and
    `InvalidInboxKeyError` for a consumer name the inbox cannot store.
    """

    def __init__(
        self,
        *,
        mediator: EventMediator | collections.abc.Callable[[], EventMediator],
        dead_letters: DeadLetterPublisher,
        consumer_name: str,
        events: EventTypes = (),
        transaction: Transaction[SessionT] | None = None,
        inbox: InboxRepository[SessionT] | None = None,
        retry: ConsumerRetry = _DEFAULT_RETRY,
        dead_letter_topic: str | None = None,
        dead_letter_retry: DeadLetterRetry = _DEFAULT_DEAD_LETTER_RETRY,
        health: ConsumerHealth | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        if inbox is not None:
            if transaction is None:
                raise ConfigurationError(
                    "an inbox records each message in the handler's transaction: pass "
                    "transaction= too, e.g. transaction=async_sessionmaker(engine).begin."
                )
            check_key(consumer_name, uuid.UUID(int=0))  # fail now, not on every record
        self.mediator = mediator
        self.dead_letters = dead_letters
        self.consumer_name = consumer_name
        self.decoder = EventDecoder(events)
        self._telemetry = _consumer_telemetry(consumer_name)
        self.transaction = transaction
        self.inbox = inbox
        self.retry = retry
        self.dead_letter_topic = dead_letter_topic
        self.dead_letter_retry = dead_letter_retry
        self.health = ConsumerHealth() if health is None else health
        self.keyring: Keyring | None = keyring

    async def settle(self, record: Record, released: asyncio.Event) -> Outcome:
        """Handle `record`, or dead-letter it; give up only when `released` is set.

        Raises nothing but `asyncio.CancelledError` (and what is not an
        `Exception`): a failure is retried or dead-lettered.
        """
        telemetry = self._telemetry
        if telemetry is None or not telemetry_recording():
            return await self._settle(record, released)
        with telemetry.settling(record, text_headers(record.headers)) as settled:
            outcome = await self._settle(record, released)
            settled(outcome.value.replace("-", "_"))
        return outcome

    async def _settle(self, record: Record, released: asyncio.Event) -> Outcome:
        """`settle`, without its span.

        Raises nothing but `asyncio.CancelledError` (and what is not an
        `Exception`): a failure is retried or dead-lettered.
        """
        headers = text_headers(record.headers)
        try:
            if self.keyring is not None:
                self.keyring.verify(record.value, record.key, headers)
            decoded = self.decoder.decode(record.value, headers)
        except (SignatureError, UndecodableRecordError) as error:
            return await self._dead_letter(record, _Failed(error, attempts=0), released)
        delivery = Delivery(
            message_id=decoded.message_id,
            event_name=decoded.event.event_name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=None if record.key is None else as_text(record.key),
            headers=headers,
        )
        result = await self._handle(delivery, decoded.event, released)
        if isinstance(result, _Failed):
            return await self._dead_letter(record, result, released)
        return result

    async def _handle(
        self, delivery: Delivery, event: AnyEvent, released: asyncio.Event
    ) -> Outcome | _Failed:
        """Try the event until it succeeds, fails for good, or `released` is set."""
        pauses = self.retry.delays()
        attempts = 0
        while True:
            attempts += 1
            try:
                return await self._handle_once(delivery, event)
            except Exception as error:
                permanent = self.retry.permanent_error(error)
                if permanent is not None:
                    return _Failed(permanent, attempts)
                pause = next(pauses, None)
                if pause is None:
                    if not self.retry.is_transient(error):
                        return _Failed(error, attempts)
                    pause = self.retry.max_delay
                if self._telemetry is not None and telemetry_recording():
                    self._telemetry.retried(delivery.topic, error)
                logger.warning(
                    "handling %s %s (%s[%d]@%d) failed (try %d), trying again in %.2fs: %s",
                    delivery.event_name,
                    delivery.message_id,
                    delivery.topic,
                    delivery.partition,
                    delivery.offset,
                    attempts,
                    pause,
                    bounded_text(f"{type(error).__name__}: {error}"),
                )
                if await _released_within(released, pause):
                    return Outcome.ABANDONED

    async def _handle_once(self, delivery: Delivery, event: AnyEvent) -> Outcome:
        """One try: in the transaction, when there is one, after the inbox check."""
        if self.transaction is None:
            await self._dispatch(delivery, event)
            return Outcome.HANDLED
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
                return Outcome.DUPLICATE
            await self._dispatch(dataclasses.replace(delivery, session=session), event)
        return Outcome.HANDLED

    async def _dispatch(self, delivery: Delivery, event: AnyEvent) -> None:
        """Run the event's handlers with `delivery` as the current delivery."""
        mediator = self.mediator if isinstance(self.mediator, EventMediator) else self.mediator()
        with delivering(delivery):
            await mediator.send(event)

    async def _dead_letter(
        self, record: Record, failed: _Failed, released: asyncio.Event
    ) -> Outcome:
        """Publish the dead letter, trying again after each failure until it is taken."""
        letter = DeadLetter(
            record,
            failed.error,
            failed.attempts,
            dead_letter_topic(record.topic, self.dead_letter_topic),
        )
        logger.error(
            "dead-lettering %s to %s after %d attempt(s): %s",
            letter.coordinates,
            letter.topic,
            letter.attempts,
            letter.reason,
        )
        trouble = f"dead-letter {letter.coordinates}"
        pauses = self.dead_letter_retry.delays()
        try:
            while True:
                try:
                    await self.dead_letters.publish(letter)
                except Exception as error:
                    pause = next(pauses)
                    detail = bounded_text(
                        f"{letter.topic} did not take it: {type(error).__name__}: {error}"
                    )
                    self.health.dead_letter_failures += 1
                    self.health.trouble(trouble, detail)
                    logger.error(
                        "could not dead-letter %s, trying again in %.1fs: %s",
                        letter.coordinates,
                        pause,
                        detail,
                    )
                    if await _released_within(released, pause):
                        return Outcome.ABANDONED
                else:
                    self.health.dead_letters += 1
                    return Outcome.DEAD_LETTERED
        finally:
            self.health.cleared(trouble)


def _consumer_telemetry(consumer_name: str) -> ConsumerTelemetry | None:
    if not opentelemetry_installed():
        return None
    from cqrs.telemetry.consumer import ConsumerTelemetry  # the `otel` extra: imported only with it

    return ConsumerTelemetry(consumer_name)


async def _released_within(released: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `released` gets set; return whether it was."""
    if not released.is_set():
        # Not asyncio.wait_for: before Python 3.12 it can swallow a cancellation.
        waiting = asyncio.ensure_future(released.wait())
        try:
            await asyncio.wait({waiting}, timeout=seconds)
        finally:
            waiting.cancel()
    return released.is_set()
