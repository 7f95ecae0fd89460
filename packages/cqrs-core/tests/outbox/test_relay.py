"""OutboxRelay on MemoryOutbox: failed rows back off (the rows behind them wait uncharged),
and run_forever leaves nothing behind."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox import MemoryOutbox, OutboxRelay, OutboxStatus, RetryPolicy
from cqrs.outbox.relay import OutboxClaim
from cqrs.testing import BatchingBroker, FakeClock

RETRY = RetryPolicy(max_attempts=3, initial_delay=datetime.timedelta(seconds=10))


class RefusingBroker(InMemoryMessageBroker):
    """Refuses the first `refusals` messages."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def send_message(self, message: Message) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise ConnectionError("broker down")
        await super().send_message(message)


async def test_a_failed_row_backs_off_then_goes_out() -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock=clock)
    outbox.stage(
        [Message("placed", "orders", {}, key="o1"), Message("paid", "orders", {}, key="o1")]
    )
    broker = RefusingBroker(refusals=1)
    relay = OutboxRelay(outbox, broker, retry=RETRY)

    assert await relay.run_once() == 0
    first, second = outbox.rows()
    assert (first.status, first.attempts, first.last_error) == (
        OutboxStatus.PENDING,
        1,
        "ConnectionError: broker down",
    )
    assert first.next_attempt_at == clock() + datetime.timedelta(seconds=10)
    assert (second.status, second.attempts) == (OutboxStatus.PENDING, 0)
    assert await relay.run_once() == 0  # backing off, and the key waits behind it

    clock.advance(seconds=10)
    assert await relay.run_once() == 2
    assert [m.message_name for m in broker.messages] == ["placed", "paid"]


class RefusingByName(InMemoryMessageBroker):
    """Refuses every message named in `refused`, one message at a time."""

    def __init__(self, *refused: str) -> None:
        super().__init__()
        self.refused = set(refused)

    async def send_message(self, message: Message) -> None:
        if message.message_name in self.refused:
            raise ConnectionError(f"{message.message_name} not sent")
        await super().send_message(message)


@pytest.mark.parametrize("batches", [False, True], ids=["one-by-one", "in-batches"])
async def test_rows_held_back_behind_a_failing_row_are_not_charged(batches: bool) -> None:
    clock = FakeClock()
    outbox = MemoryOutbox(clock=clock)
    outbox.stage(
        [
            Message("placed", "orders", {}, key="o1"),
            Message("paid", "orders", {}, key="o1"),
            Message("shipped", "orders", {}, key="o1"),
            Message("other", "orders", {}, key="o2"),
        ]
    )
    broker = RefusingByName("placed")
    relay = OutboxRelay(outbox, BatchingBroker(broker) if batches else broker, retry=RETRY)

    for _ in range(RETRY.max_attempts - 1):
        await relay.run_once()
        clock.advance(seconds=60)
    held_back = {row.message.message_name: (row.status, row.attempts) for row in outbox.rows()}
    broker.refused.clear()
    while await relay.run_once():
        pass

    assert held_back == {
        "placed": (OutboxStatus.PENDING, RETRY.max_attempts - 1),
        "paid": (OutboxStatus.PENDING, 0),
        "shipped": (OutboxStatus.PENDING, 0),
        "other": (OutboxStatus.PUBLISHED, 1),
    }
    assert [m.message_name for m in broker.messages] == ["other", "placed", "paid", "shipped"]


class WaitingOutbox(MemoryOutbox):
    """Counts passes and waits; `broken` makes waiting fail at once."""

    def __init__(self, *, broken: bool = False) -> None:
        super().__init__()
        self.broken = broken
        self.claims = 0
        self.waits = 0
        self.waiting = asyncio.Event()

    def claim(self, limit: int, retry: RetryPolicy) -> OutboxClaim:
        self.claims += 1
        return super().claim(limit, retry)

    async def wait_for_rows(self, timeout: float) -> None:
        self.waits += 1
        self.waiting.set()
        if self.broken:
            raise ConnectionError("database unreachable")
        await super().wait_for_rows(timeout)


async def test_a_cancelled_relay_leaves_no_task_behind() -> None:
    outbox = WaitingOutbox()
    running = asyncio.ensure_future(OutboxRelay(outbox, InMemoryMessageBroker()).run_forever())
    await asyncio.wait_for(outbox.waiting.wait(), 5)

    running.cancel()
    await asyncio.gather(running, return_exceptions=True)

    assert running.cancelled()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_store_that_cannot_wait_slows_the_relay_to_its_poll_interval() -> None:
    outbox = WaitingOutbox(broken=True)
    relay = OutboxRelay(outbox, InMemoryMessageBroker(), poll_interval=60)
    stop = asyncio.Event()
    running = asyncio.ensure_future(relay.run_forever(stop))
    await asyncio.wait_for(outbox.waiting.wait(), 5)

    for _ in range(200):  # plenty of turns of the loop for a spinning relay
        await asyncio.sleep(0)
    passes = (outbox.claims, outbox.waits)
    stop.set()
    await asyncio.wait_for(running, 5)

    assert passes == (1, 1)
