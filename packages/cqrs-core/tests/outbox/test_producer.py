"""EventProducer on MemoryOutbox: constructor forms, claims, order and retries.

The documented loop and a failed row's backoff also run on every store, in
the outbox store contract (`cqrs.testing.outbox_store`)."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import copy
import datetime
import uuid

import pydantic
import pytest

import cqrs
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox import EventProducer, MemoryOutbox, OutboxRelay, OutboxStatus, RetryPolicy
from cqrs.testing import FakeClock, registered_outbox_events
from cqrs.testing.brokers import FailingBroker

PREFIX = "tests.outbox.test_producer."
RETRY = RetryPolicy(max_attempts=2, initial_delay=datetime.timedelta(seconds=10))


class Shipped(pydantic.BaseModel):
    order_id: str
    index: int


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events({f"{PREFIX}shipped": cqrs.NotificationEvent[Shipped]}):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(clock: FakeClock) -> MemoryOutbox:
    return MemoryOutbox(clock=clock)


async def write(outbox: MemoryOutbox, *keys: str | None) -> list[uuid.UUID]:
    """Commit one event per key, in order; return their event ids."""
    events = [
        cqrs.NotificationEvent[Shipped](
            event_name=f"{PREFIX}shipped",
            topic="orders",
            payload=Shipped(order_id=key or "none", index=index),
        )
        for index, key in enumerate(keys)
    ]
    async with outbox as session:
        for event, key in zip(events, keys, strict=True):
            outbox.add(session, event, key=key)
        await outbox.commit(session)
    return [event.event_id for event in events]


def statuses(outbox: MemoryOutbox) -> list[tuple[str, int]]:
    return [(row.status.value, row.attempts) for row in outbox.rows()]


async def test_the_three_constructor_forms_agree(outbox: MemoryOutbox) -> None:
    broker = InMemoryMessageBroker()

    forms = [
        EventProducer(broker, outbox),
        EventProducer(outbox, broker),  # the 0.1.3 order
        EventProducer(message_broker=broker, repository=outbox),
    ]

    assert [(p.message_broker, p.store, p.repository.outbox) for p in forms] == [
        (broker, outbox, outbox)
    ] * 3


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param("broker broker", id="two brokers"),
        pytest.param("outbox outbox", id="two outboxes"),
        pytest.param("broker", id="no outbox"),
        pytest.param("broker plain", id="an outbox relays cannot claim from"),
    ],
)
def test_a_wrong_pair_of_arguments_is_refused(arguments: str, outbox: MemoryOutbox) -> None:
    parts = {"broker": InMemoryMessageBroker(), "outbox": outbox, "plain": object()}

    with pytest.raises(TypeError, match="EventProducer"):
        EventProducer(*(parts[name] for name in arguments.split()))  # pyright: ignore[reportArgumentType]


async def test_a_held_batch_is_not_handed_to_anyone_else_until_committed(
    outbox: MemoryOutbox,
) -> None:
    await write(outbox, "a", "b")
    producer = EventProducer(InMemoryMessageBroker(), outbox)
    relay_broker = InMemoryMessageBroker()
    relay = OutboxRelay(outbox, relay_broker)
    generator = producer.event_batch_generator()

    batch = await anext(generator)
    for row in batch:
        await producer.send_message(row)
    relayed_while_held = await relay.run_once()
    await producer.repository.commit()

    assert relayed_while_held == 0
    assert producer.batch == ()
    assert statuses(outbox) == [("published", 1), ("published", 1)]
    assert await relay.run_once() == 0
    await generator.aclose()


async def test_the_next_iteration_marks_a_batch_left_uncommitted(outbox: MemoryOutbox) -> None:
    await write(outbox, "a", "b", "c")
    broker = InMemoryMessageBroker()
    producer = EventProducer(broker, outbox)
    batches: list[list[int]] = []

    async with contextlib.aclosing(producer.event_batch_generator(batch_size=2)) as generator:
        async for messages in generator:
            batches.append([row.id for row in messages])
            for message in messages:
                await producer.send_message(message)
            if len(batches) == 2:
                break  # without commit: closing the generator marks the last batch

    assert batches == [[1, 2], [3]]
    assert statuses(outbox) == [("published", 1)] * 3
    assert len(broker.messages) == 3


async def test_a_failed_row_backs_off_and_holds_back_its_key_only(
    outbox: MemoryOutbox, clock: FakeClock
) -> None:
    ids = await write(outbox, "a", "a", "b")
    broker = FailingBroker()
    broker.refuse(1, where=lambda message: message.message_id == ids[0])
    producer = EventProducer(broker, outbox, retry=RETRY)
    generator = producer.event_batch_generator()

    outcomes = [await producer.send_message(row) for row in await anext(generator)]
    await producer.repository.commit()

    assert outcomes == [False, False, True]
    assert [m.message_id for m in broker.messages] == [ids[2]]
    [first, second, third] = outbox.rows()
    assert (first.status, first.attempts, first.last_error) == (
        OutboxStatus.PENDING,
        1,
        f"ConnectionError: broker refused {PREFIX}shipped",
    )
    assert first.next_attempt_at == clock() + datetime.timedelta(seconds=10)
    assert (second.status, second.attempts) == (OutboxStatus.PENDING, 0)
    assert (third.status, third.attempts) == (OutboxStatus.PUBLISHED, 1)

    clock.advance(seconds=10)
    retried = await anext(generator)
    for row in retried:
        await producer.send_message(row)
    await producer.repository.commit()
    await generator.aclose()

    assert [row.id for row in retried] == [1, 2]
    assert [m.message_id for m in broker.messages] == [ids[2], ids[0], ids[1]]
    assert statuses(outbox) == [("published", 2), ("published", 1), ("published", 1)]


async def test_a_row_that_keeps_failing_goes_dead(outbox: MemoryOutbox, clock: FakeClock) -> None:
    await write(outbox, "a")
    broker = FailingBroker()
    broker.refuse(RETRY.max_attempts)
    producer = EventProducer(broker, outbox, retry=RETRY)
    generator = producer.event_batch_generator()

    for _ in range(RETRY.max_attempts):
        [row] = await anext(generator)
        assert await producer.send_message(row) is False
        await producer.repository.commit()
        clock.advance(seconds=60)
    await generator.aclose()

    assert statuses(outbox) == [("dead", RETRY.max_attempts)]
    assert broker.messages == []


async def test_rollback_leaves_every_row_pending_to_go_again_with_its_id(
    outbox: MemoryOutbox,
) -> None:
    ids = await write(outbox, "a", "b")
    broker = InMemoryMessageBroker()
    producer = EventProducer(broker, outbox)
    generator = producer.event_batch_generator()

    for row in await anext(generator):
        await producer.send_message(row)
    await producer.repository.rollback()
    assert statuses(outbox) == [("pending", 0)] * 2

    for row in await anext(generator):
        await producer.send_message(row)
    await producer.repository.commit()
    await generator.aclose()

    assert [m.message_id for m in broker.messages] == ids + ids
    assert statuses(outbox) == [("published", 1)] * 2


async def test_a_key_is_sent_in_order_whatever_order_the_loop_uses(outbox: MemoryOutbox) -> None:
    ids = await write(outbox, "a", "a")
    broker = InMemoryMessageBroker()
    producer = EventProducer(broker, outbox)
    generator = producer.event_batch_generator()
    first, second = await anext(generator)

    outcomes = [
        await producer.send_message(second),  # too early: its key's first row is unsent
        await producer.send_message(first),
        await producer.send_message(first),  # again: already published, not re-sent
    ]
    await producer.repository.commit()
    await generator.aclose()

    assert outcomes == [False, True, True]
    assert [m.message_id for m in broker.messages] == [ids[0]]
    assert statuses(outbox) == [("published", 1), ("pending", 0)]


async def test_a_row_outside_the_held_batch_is_refused(outbox: MemoryOutbox) -> None:
    await write(outbox, "a")
    producer = EventProducer(InMemoryMessageBroker(), outbox)
    generator = producer.event_batch_generator()
    [row] = await anext(generator)
    await producer.repository.commit()

    with pytest.raises(ValueError, match="not in the batch"):
        await producer.send_message(row)
    await generator.aclose()


async def test_commit_with_no_batch_held_is_the_outbox_commit(outbox: MemoryOutbox) -> None:
    producer = EventProducer(InMemoryMessageBroker(), outbox)
    event = cqrs.NotificationEvent[Shipped](
        event_name=f"{PREFIX}shipped", topic="orders", payload=Shipped(order_id="o", index=0)
    )

    async with outbox as session:
        producer.repository.add(session, event)
        await producer.repository.commit()

    assert [m.message_id for m in outbox.messages()] == [event.event_id]


class WatchedOutbox(MemoryOutbox):
    """Tells the test when the producer starts waiting for rows."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def wait_for_rows(self, timeout: float) -> None:
        self.waiting.set()
        await super().wait_for_rows(timeout)


async def test_with_nothing_due_the_generator_waits_for_a_commit() -> None:
    outbox = WatchedOutbox()
    producer = EventProducer(InMemoryMessageBroker(), outbox, poll_interval=60)
    generator = producer.event_batch_generator()
    next_batch = asyncio.ensure_future(anext(generator))

    await asyncio.wait_for(outbox.waiting.wait(), 5)
    assert not next_batch.done()
    ids = await write(outbox, "a")
    batch = await asyncio.wait_for(next_batch, 5)

    assert [row.message.message_id for row in batch] == ids
    await generator.aclose()
    assert producer.batch == ()
    assert statuses(outbox) == [("pending", 0)]  # nothing was sent, so nothing to mark


async def test_closing_the_producer_marks_what_it_holds(outbox: MemoryOutbox) -> None:
    await write(outbox, "a", "b")
    producer = EventProducer(InMemoryMessageBroker(), outbox)
    generator = producer.event_batch_generator()
    first, _ = await anext(generator)
    await producer.send_message(first)

    await producer.aclose()

    assert statuses(outbox) == [("published", 1), ("pending", 0)]
    assert producer.batch == ()
    await generator.aclose()
    assert statuses(outbox) == [("published", 1), ("pending", 0)]


def test_the_repository_view_passes_other_attributes_to_the_outbox(outbox: MemoryOutbox) -> None:
    producer = EventProducer(InMemoryMessageBroker(), outbox)

    assert producer.repository.rows == outbox.rows
    with pytest.raises(AttributeError):
        _ = producer.repository.no_such_attribute
    assert copy.copy(producer.repository).outbox is outbox
