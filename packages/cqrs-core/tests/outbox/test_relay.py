"""OutboxRelay.run_forever on MemoryOutbox: it leaves nothing behind and does not spin.

What a relay does with a store's rows is the outbox store contract's
(`cqrs.testing.outbox_store`), run on `MemoryOutbox` in test_memory.py."""

from __future__ import annotations

import asyncio

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox import MemoryOutbox, OutboxRelay, RetryPolicy
from cqrs.outbox.relay import OutboxClaim


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
