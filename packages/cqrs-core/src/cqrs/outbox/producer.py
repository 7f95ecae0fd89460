"""`EventProducer`: publish the outbox from a loop you write yourself, one batch at a time.

`event_batch_generator()` hands out batches of due rows. Each batch is a
claim on the outbox (no other producer or relay takes those rows meanwhile);
`send_message(row)` publishes one row and notes how it went, and
`repository.commit()` marks the batch: published rows are done, failed ones
back off (and end up `dead` after `retry.max_attempts`), rows not sent stay
pending. Asking for the next batch without committing marks the current
one just the same.

Delivery is at least once: a process that dies between publishing and
committing leaves its rows pending, and they go out again with the same
event ids. Within a batch, a keyed row is only sent once every earlier row
of its key in that batch was published, so one key's events keep their
order even when a publication fails.

`OutboxRelay` runs the same cycle for you (keys in parallel, waiting for new
rows between passes); the producer is for services that want the loop in
their own hands.

>>> import asyncio, pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.message_brokers.memory import InMemoryMessageBroker
>>> from cqrs.outbox.map import OutboxedEventMap
>>> from cqrs.outbox.memory import MemoryOutbox
>>> class Shipped(pydantic.BaseModel):
...     order_id: str
>>> OutboxedEventMap.register("producer_doc_shipped", NotificationEvent[Shipped])
>>> outbox, broker = MemoryOutbox(), InMemoryMessageBroker()
>>> producer = EventProducer(broker, outbox)
>>> async def publish_one_batch() -> list[str]:
...     async with outbox as session:
...         outbox.add(session, NotificationEvent[Shipped](
...             event_name="producer_doc_shipped", topic="orders", payload=Shipped(order_id="o1")))
...         await outbox.commit(session)
...     async for rows in producer.event_batch_generator():
...         for row in rows:
...             await producer.send_message(row)
...         await producer.repository.commit()
...         break
...     return [row.status.value for row in outbox.rows()]
>>> asyncio.run(publish_one_batch()), [m.message_name for m in broker.messages]
(['published'], ['producer_doc_shipped'])
"""

from __future__ import annotations

import collections
import collections.abc
import logging
import typing

from cqrs.message_brokers.protocol import MessageBroker
from cqrs.outbox.models import OutboxedEvent
from cqrs.outbox.relay import OutboxClaim, OutboxStore, RetryPolicy

__all__ = ("EventProducer", "ProducerRepository")

logger: logging.Logger = logging.getLogger("cqrs.outbox.producer")


class _Released(Exception):
    """Closes a claim as if its block had failed, so nothing is marked."""


class ProducerRepository:
    """The outbox as `EventProducer.repository` shows it.

    `commit()` and `rollback()` without a session act on the batch the
    producer holds; with a session, or while no batch is held, they reach
    the outbox's own `commit`/`rollback`. Any other attribute is the
    outbox's (the outbox itself is `outbox`).
    """

    def __init__(self, producer: EventProducer, outbox: OutboxStore) -> None:
        self._producer = producer
        self.outbox = outbox

    async def commit(self, session: typing.Any = None) -> None:
        """Mark the held batch (published rows done, failed ones backing off, the rest
        pending) and let it go; with a `session`, or with no batch held, commit the
        outbox's own transaction instead."""
        if session is None and self._producer.batch:
            await self._producer._close_batch(mark=True)  # pyright: ignore[reportPrivateUsage]
            return
        await self._outbox_method("commit")(session)

    async def rollback(self, session: typing.Any = None) -> None:
        """Let the held batch go without marking anything (all its rows stay pending,
        so the published ones go out again); with a `session`, or with no batch held,
        roll the outbox's own transaction back."""
        if session is None and self._producer.batch:
            await self._producer._close_batch(mark=False)  # pyright: ignore[reportPrivateUsage]
            return
        await self._outbox_method("rollback")(session)

    def claim(self, limit: int, retry: RetryPolicy) -> OutboxClaim:
        """The outbox's own `claim` (see `OutboxStore`)."""
        return self.outbox.claim(limit, retry)

    async def wait_for_rows(self, timeout: float) -> None:
        """The outbox's own `wait_for_rows` (see `OutboxStore`)."""
        await self.outbox.wait_for_rows(timeout)

    def _outbox_method(self, name: str) -> typing.Callable[..., typing.Awaitable[None]]:
        """The outbox's method `name`; `TypeError` when it has none."""
        method = getattr(self.outbox, name, None)
        if not callable(method):
            raise TypeError(
                f"{type(self.outbox).__qualname__} has no {name}(), and the producer holds "
                f"no batch for {name}() to close"
            )
        return typing.cast(typing.Callable[..., typing.Awaitable[None]], method)

    def __getattr__(self, name: str) -> typing.Any:
        if name.startswith("__") or name == "outbox":  # copy, pickle: no recursion
            raise AttributeError(name)
        return getattr(self.outbox, name)


class EventProducer:
    """Publishes outbox rows batch by batch, in a loop the caller writes.

    Takes a message broker and an outbox that relays can claim rows from
    (an `OutboxStore`: `MemoryOutbox`, or cqrs-sqla's
    `SqlAlchemyOutboxedEventRepository` or `SqlAlchemyOutboxStore`), in
    either order, positionally or as `message_broker=` and `repository=`.
    `retry` sets the backoff of failed rows (`RetryPolicy()` by default),
    `poll_interval` (seconds) how long `event_batch_generator` waits for new
    rows when none is due.
    """

    def __init__(
        self,
        *components: MessageBroker | OutboxStore,
        message_broker: MessageBroker | None = None,
        repository: OutboxStore | None = None,
        retry: RetryPolicy | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        brokers = [part for part in components if isinstance(part, MessageBroker)]
        outboxes = [part for part in components if not isinstance(part, MessageBroker)]
        if message_broker is not None:
            if not isinstance(message_broker, MessageBroker):
                raise TypeError(
                    f"message_broker must have `async send_message(message)`; got "
                    f"{type(message_broker).__qualname__}"
                )
            brokers.append(message_broker)
        if repository is not None:
            outboxes.append(repository)
        if len(brokers) != 1 or len(outboxes) != 1:
            raise TypeError(
                "EventProducer takes one message broker and one outbox, in either order: "
                "EventProducer(broker, repository) or EventProducer(repository, broker); got "
                f"{len(brokers)} broker(s) and {len(outboxes)} other argument(s)"
            )
        outbox = outboxes[0]
        if not all(callable(getattr(outbox, name, None)) for name in ("claim", "wait_for_rows")):
            raise TypeError(
                f"EventProducer needs an outbox it can claim rows from (an OutboxStore, such "
                f"as MemoryOutbox or cqrs-sqla's SqlAlchemyOutboxedEventRepository); "
                f"{type(outbox).__qualname__} has no claim() and wait_for_rows()"
            )
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        self.message_broker: MessageBroker = brokers[0]
        self.store: OutboxStore = outbox
        self.repository: ProducerRepository = ProducerRepository(self, outbox)
        self.retry: RetryPolicy = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self._claim: OutboxClaim | None = None  # the context manager, for __aexit__
        self._held: OutboxClaim | None = None  # what its __aenter__ returned
        self._batch: dict[int, OutboxedEvent] = {}
        self._by_key: dict[str, list[int]] = {}
        self._sent: set[int] = set()
        self._failed: set[int] = set()

    @property
    def batch(self) -> tuple[OutboxedEvent, ...]:
        """The rows of the batch held now (empty when none is)."""
        return tuple(self._batch.values())

    async def event_batch_generator(
        self, batch_size: int = 100
    ) -> collections.abc.AsyncGenerator[list[OutboxedEvent], None]:
        """Batches of up to `batch_size` due rows, in id order, without end.

        Each batch is held until `repository.commit()` or the next
        iteration, which mark it. When no row is due the generator waits
        for new rows (at most `poll_interval`) and looks again; it never
        yields an empty batch. Closing the generator marks the batch it
        holds.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        mine: OutboxClaim | None = None
        try:
            while True:
                await self._close_batch(mark=True)
                mine = await self._open_batch(batch_size)
                if mine is None:
                    await self.store.wait_for_rows(self.poll_interval)
                    continue
                yield list(self._batch.values())
        finally:
            if mine is not None and self._claim is mine:
                await self._close_batch(mark=True)

    async def send_message(self, message: OutboxedEvent) -> bool:
        """Publish one row of the held batch and note the outcome; `True` if the broker took it.

        A broker error is logged and noted, not raised: the row is tried
        again after the retry policy's backoff. A keyed row is not sent
        (`False`, it stays pending) while an earlier row of its key in the
        batch has not been published. Sending a published row again does
        nothing. A row from outside the held batch raises `ValueError`.
        """
        held = self._held
        if held is None or message.id not in self._batch:
            raise ValueError(
                f"outbox row {message.id} is not in the batch this producer holds: send the "
                f"rows event_batch_generator() yields, before repository.commit()"
            )
        if message.id in self._sent:
            return True
        if message.id in self._failed or not self._earlier_rows_sent(message):
            return False
        try:
            await self.message_broker.send_message(message.message)
        except Exception as exc:
            logger.warning(
                "outbox row %s (%s) not published: %s", message.id, message.message.topic, exc
            )
            self._failed.add(message.id)
            held.failed(message, f"{type(exc).__qualname__}: {exc}")
            return False
        self._sent.add(message.id)
        held.published(message)
        return True

    async def aclose(self) -> None:
        """Mark the batch held, if any, and let it go (as `repository.commit()` does)."""
        await self._close_batch(mark=True)

    def _earlier_rows_sent(self, row: OutboxedEvent) -> bool:
        key = row.message.key
        if key is None:
            return True
        return all(earlier in self._sent for earlier in self._by_key[key] if earlier < row.id)

    async def _open_batch(self, batch_size: int) -> OutboxClaim | None:
        """Claim a batch and hold it; `None` (and nothing held) when no row is due."""
        claim = self.store.claim(batch_size, self.retry)
        held = await claim.__aenter__()
        rows = list(held.rows)
        if not rows:
            await claim.__aexit__(None, None, None)
            return None
        by_key: dict[str, list[int]] = collections.defaultdict(list)
        for row in rows:
            if row.message.key is not None:
                by_key[row.message.key].append(row.id)
        self._claim, self._held = claim, held
        self._batch = {row.id: row for row in rows}
        self._by_key = dict(by_key)
        return claim

    async def _close_batch(self, *, mark: bool) -> None:
        claim = self._claim
        self._claim = self._held = None
        self._batch, self._by_key = {}, {}
        self._sent, self._failed = set(), set()
        if claim is None:
            return
        if mark:
            await claim.__aexit__(None, None, None)
        else:
            released = _Released("batch let go without marking")
            await claim.__aexit__(_Released, released, None)
