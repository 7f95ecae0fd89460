"""A client retrying `POST /orders` under its `Idempotency-Key` after orders was killed (-9)
in the middle of a burst: every key places exactly one order, and every answer under a
key names that order, whether the first request was answered, committed unanswered, or
lost before its commit."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx

from cqrs_demo import ReferenceSystem

from .shop import Shop

#: Clients posting at once, each one order after another until the server is gone: enough
#: that on PostgreSQL a few requests have usually committed, unanswered, when the kill comes.
CLIENTS = 48
#: Orders answered before orders is killed: the burst is under way.
ANSWERED_BEFORE_THE_KILL = 60
BURST_TIMEOUT = 60.0


@dataclasses.dataclass
class Attempt:
    """One order a client placed under its own key, and the order ids it was answered."""

    key: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    #: One customer per key, so the customer's orders are the key's.
    customer: str = dataclasses.field(default_factory=lambda: f"retry-{uuid.uuid4().hex[:12]}")
    answers: list[str] = dataclasses.field(default_factory=list[str])


async def test_retries_after_a_kill_mid_burst_place_exactly_one_order_per_key(
    shop: Shop, system: ReferenceSystem, sku: str
) -> None:
    attempts: list[Attempt] = []
    enough_answered = asyncio.Event()

    async def place(attempt: Attempt) -> str:
        return await shop.place_order(
            sku, 1, customer=attempt.customer, idempotency_key=attempt.key
        )

    async def client() -> None:
        # Places orders until its request gets no answer: orders is gone.
        while True:
            attempt = Attempt()
            attempts.append(attempt)
            try:
                attempt.answers.append(await place(attempt))
            except httpx.TransportError:
                return
            if sum(bool(each.answers) for each in attempts) >= ANSWERED_BEFORE_THE_KILL:
                enough_answered.set()

    clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    await asyncio.wait_for(enough_answered.wait(), BURST_TIMEOUT)
    await asyncio.to_thread(system.kill, "orders")
    await asyncio.wait_for(asyncio.gather(*clients), BURST_TIMEOUT)
    unanswered = [attempt for attempt in attempts if not attempt.answers]
    assert unanswered, "the kill must come while requests are in flight"

    await asyncio.to_thread(system.restart, "orders")
    # What the crash left: some unanswered requests committed their order, some did not.
    stored_before = {
        attempt.key: [order["order_id"] for order in await shop.customer_orders(attempt.customer)]
        for attempt in unanswered
    }
    # Every request again, same key and body: the unanswered ones as a client retries,
    # the answered ones as a client whose answer was lost would.
    for attempt in attempts:
        attempt.answers.append(await place(attempt))

    for attempt in attempts:
        stored = [order["order_id"] for order in await shop.customer_orders(attempt.customer)]
        assert len(stored) == 1, (attempt, stored)
        assert set(attempt.answers) == set(stored), (attempt, stored)
        # An unanswered request that had committed: its retry found that order.
        assert stored_before.get(attempt.key, stored) in ([], stored), (attempt, stored_before)
