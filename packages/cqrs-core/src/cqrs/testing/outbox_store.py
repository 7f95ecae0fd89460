"""`OutboxStoreContract`: the tests every `RetainingOutboxStore` (a relay's side of an
outbox) must pass, through `OutboxRelay` and `EventProducer`.

Subclass it in a test module under a name starting with `Test` and give it a
`backend` fixture: an `OutboxStoreBackend` holding the store (on the `clock`
fixture the contract provides), writing rows and reading them back.

```python
import pytest

from cqrs.testing.clock import FakeClock
from cqrs.testing.outbox_store import OutboxStoreBackend, OutboxStoreContract


class MyStoreBackend(OutboxStoreBackend):
    def __init__(self, clock: FakeClock) -> None:
        self.store = MyOutboxStore(clock=clock)

    async def write(self, messages: list[Message]) -> None: ...  # commit them as rows
    async def rows(self) -> list[OutboxedEvent]: ...  # every row, in id order
    def another_store(self) -> MyOutboxStore: ...  # what a second relay would use


class TestMyOutboxStore(OutboxStoreContract):
    @pytest.fixture
    def backend(self, clock: FakeClock) -> MyStoreBackend:
        return MyStoreBackend(clock)
```

cqrs-core's tests run it on `MemoryOutbox`, cqrs-sqla's on `SqlAlchemyOutboxStore`.

What the suite needs:

* pytest and pytest-asyncio (`pip install 'cqrs-core[testing]'`); see
  `cqrs.testing.inbox` for strict mode;
* a fresh, empty outbox per test;
* a store that takes every time it uses (due times, backoff, publication
  times for retention) from `clock`, a `FakeClock` that moves only when a
  test says so.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import datetime
import typing
import uuid

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.producer import EventProducer
from cqrs.outbox.relay import OutboxRelay, RetainingOutboxStore, RetryPolicy
from cqrs.testing._pytest import pytest
from cqrs.testing.brokers import BatchingBroker, FailingBroker
from cqrs.testing.clock import FakeClock

__all__ = ("OutboxStoreBackend", "OutboxStoreContract")

#: Three attempts, ten seconds apart at first.
_RETRY: typing.Final = RetryPolicy(max_attempts=3, initial_delay=datetime.timedelta(seconds=10))
#: The most any wait in these tests may take: far above what they need.
_DEADLINE: typing.Final = 30.0
#: How long a claim is held while another one is tried.
_OVERLAP: typing.Final = 1.0


class OutboxStoreBackend(abc.ABC):
    """An outbox store under test, and how the tests fill and read its outbox."""

    #: The store under test, reading every time from the contract's `clock`.
    store: RetainingOutboxStore

    @abc.abstractmethod
    async def write(self, messages: list[Message]) -> None:
        """Commit `messages` to the outbox, in order, as pending rows written now."""

    @abc.abstractmethod
    async def rows(self) -> list[OutboxedEvent]:
        """Every row of the outbox, in id order, read outside the tests' claims."""

    @abc.abstractmethod
    def another_store(self) -> RetainingOutboxStore:
        """A store on the same outbox, as a second relay would have (the store itself
        when that is how relays share it)."""


def _messages(*keys: str | None) -> list[Message]:
    """One message per key, named `event<index>` after its place in `keys`."""
    return [
        Message(f"event{index}", "parcels", {"index": index, "by": "Zoë"}, uuid.uuid4(), key)
        for index, key in enumerate(keys)
    ]


def _named(name: str) -> typing.Callable[[Message], bool]:
    return lambda message: message.message_name == name


def _states(rows: list[OutboxedEvent]) -> list[tuple[OutboxStatus, int]]:
    return [(row.status, row.attempts) for row in rows]


def _ids_per_key(messages: typing.Iterable[Message]) -> dict[str | None, list[uuid.UUID]]:
    per_key: dict[str | None, list[uuid.UUID]] = collections.defaultdict(list)
    for message in messages:
        per_key[message.key].append(message.message_id)
    return dict(per_key)


class OutboxStoreContract:
    """The outbox store contract as pytest tests; subclass it as `Test...` and override
    the `backend` fixture (see the module docstring)."""

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The clock the store must read every time from."""
        return FakeClock()

    @pytest.fixture
    def backend(self, clock: FakeClock) -> OutboxStoreBackend:
        """Override: the backend of a fresh, empty outbox whose store's clock is `clock`."""
        raise NotImplementedError(f"{type(self).__name__} must override the `backend` fixture")

    async def test_the_store_implements_the_port(self, backend: OutboxStoreBackend) -> None:
        assert isinstance(backend.store, RetainingOutboxStore)

    async def test_pending_rows_are_published_once_and_marked(
        self, backend: OutboxStoreBackend
    ) -> None:
        written = _messages("a", "b", None)
        await backend.write(written)
        broker = InMemoryMessageBroker()
        relay = OutboxRelay(backend.store, broker)

        assert (await relay.run_once(), await relay.run_once()) == (3, 0)
        assert sorted(m.message_id for m in broker.messages) == sorted(
            m.message_id for m in written
        )
        assert _states(await backend.rows()) == [(OutboxStatus.PUBLISHED, 1)] * 3

    async def test_a_claim_holds_the_written_messages_in_id_order_up_to_its_limit(
        self, backend: OutboxStoreBackend
    ) -> None:
        written = _messages("a", None, "b")
        traced = Message(
            "traced",
            "parcels",
            {"nested": {"list": [1, 2.5, True, None]}},
            uuid.uuid4(),
            "c",
            {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
        await backend.write([*written, traced])

        claimed: list[OutboxedEvent] = []
        for limit in (2, 10):
            async with backend.store.claim(limit, _RETRY) as claim:
                claimed += claim.rows
                for row in claim.rows:
                    claim.published(row)

        assert [row.message for row in claimed] == [*written, traced]
        assert [row.id for row in claimed] == sorted(row.id for row in claimed)
        assert len({row.id for row in claimed}) == 4

    async def test_a_claim_left_by_an_error_marks_nothing(
        self, backend: OutboxStoreBackend
    ) -> None:
        await backend.write(_messages("a", "b"))

        with pytest.raises(RuntimeError, match="relay crashed"):
            async with backend.store.claim(10, _RETRY) as claim:
                claim.published(claim.rows[0])
                claim.failed(claim.rows[1], "broker down")
                raise RuntimeError("relay crashed")

        assert _states(await backend.rows()) == [(OutboxStatus.PENDING, 0)] * 2
        async with backend.store.claim(10, _RETRY) as again:
            assert len(again.rows) == 2

    async def test_rows_a_claim_holds_are_not_handed_to_another_claim(
        self, backend: OutboxStoreBackend
    ) -> None:
        written = _messages("a", "b", "c", None)
        await backend.write(written)
        others: list[OutboxedEvent] = []

        async def claim_elsewhere() -> None:
            async with backend.another_store().claim(10, _RETRY) as claim:
                others.extend(claim.rows)
                for row in claim.rows:
                    claim.published(row)

        async with backend.store.claim(2, _RETRY) as claim:
            held = list(claim.rows)
            elsewhere = asyncio.ensure_future(claim_elsewhere())
            # Time for the other claim to run while these rows are held; a store may
            # also make it wait for this claim to end, which is as good.
            await asyncio.wait({elsewhere}, timeout=_OVERLAP)
            for row in held:
                claim.published(row)
        await asyncio.wait_for(elsewhere, _DEADLINE)

        assert [row.message for row in held] == written[:2]
        assert [row.message for row in others] == written[2:]
        assert _states(await backend.rows()) == [(OutboxStatus.PUBLISHED, 1)] * 4

    async def test_a_failed_row_backs_off_and_holds_back_its_key_only(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        await backend.write(_messages("a", "a", "b"))
        broker = FailingBroker()
        broker.refuse(1, where=_named("event0"))
        relay = OutboxRelay(backend.store, broker, retry=_RETRY)

        assert await relay.run_once() == 1  # only b: a's second row waits behind its first
        first, second, _ = await backend.rows()
        assert (first.status, first.attempts, first.last_error) == (
            OutboxStatus.PENDING,
            1,
            "ConnectionError: broker refused event0",
        )
        assert first.next_attempt_at == clock() + datetime.timedelta(seconds=10)
        assert (second.status, second.attempts) == (OutboxStatus.PENDING, 0)
        assert await relay.run_once() == 0  # a's first row is backing off

        clock.advance(seconds=10)
        assert await relay.run_once() == 2
        assert [m.message_name for m in broker.messages] == ["event2", "event0", "event1"]
        assert _states(await backend.rows()) == [
            (OutboxStatus.PUBLISHED, 2),
            (OutboxStatus.PUBLISHED, 1),
            (OutboxStatus.PUBLISHED, 1),
        ]

    @pytest.mark.parametrize("batches", [False, True], ids=["one-by-one", "in-batches"])
    async def test_rows_held_back_behind_a_failing_row_are_not_charged(
        self, backend: OutboxStoreBackend, clock: FakeClock, batches: bool
    ) -> None:
        written = _messages("a", "a", "a", "b")
        await backend.write(written)
        failing = FailingBroker()
        failing.refuse(_RETRY.max_attempts - 1, where=_named("event0"))
        # In batches, a failure fails the rest of its key's batch, as Kafka does.
        broker = BatchingBroker(failing) if batches else failing
        relay = OutboxRelay(backend.store, broker, retry=_RETRY)

        for _ in range(_RETRY.max_attempts - 1):
            await relay.run_once()
            clock.advance(seconds=600)
        held_back = _states(await backend.rows())
        while await relay.run_once():
            pass

        assert held_back == [
            (OutboxStatus.PENDING, _RETRY.max_attempts - 1),
            (OutboxStatus.PENDING, 0),
            (OutboxStatus.PENDING, 0),
            (OutboxStatus.PUBLISHED, 1),
        ]
        assert [m.message_id for m in failing.messages] == [
            written[3].message_id,
            *(m.message_id for m in written[:3]),
        ]
        assert _states(await backend.rows()) == [
            (OutboxStatus.PUBLISHED, _RETRY.max_attempts),
            (OutboxStatus.PUBLISHED, 1),
            (OutboxStatus.PUBLISHED, 1),
            (OutboxStatus.PUBLISHED, 1),
        ]

    async def test_a_row_that_keeps_failing_goes_dead_and_is_not_claimed_again(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        await backend.write(_messages("a"))
        broker = FailingBroker()
        broker.refuse(_RETRY.max_attempts)
        relay = OutboxRelay(backend.store, broker, retry=_RETRY)
        for _ in range(_RETRY.max_attempts):
            assert await relay.run_once() == 0
            clock.advance(seconds=600)

        [dead] = await backend.rows()
        assert (dead.status, dead.attempts, dead.last_error) == (
            OutboxStatus.DEAD,
            _RETRY.max_attempts,
            "ConnectionError: broker refused event0",
        )
        async with backend.store.claim(10, _RETRY) as claim:
            assert list(claim.rows) == []
        assert broker.messages == []

    async def test_each_key_keeps_its_order_through_several_failures(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        written = _messages("a", "b", "c", "a", "b", "a", "c", "b", "a", "c", None)
        await backend.write(written)
        broker = FailingBroker()
        # a's first row fails twice, b's second and c's second once each.
        broker.refuse(2, where=_named("event0"))
        broker.refuse(1, where=_named("event4"))
        broker.refuse(1, where=_named("event6"))
        retry = RetryPolicy(
            max_attempts=5, initial_delay=datetime.timedelta(seconds=10), multiplier=1
        )
        relay = OutboxRelay(backend.store, broker, batch_size=4, retry=retry)

        assert await relay.run_once() == 2
        assert [m.message_name for m in broker.messages] == ["event1", "event2"]  # a waits
        for _ in range(30):
            if len(broker.messages) == len(written):
                break
            if await relay.run_once() == 0:
                clock.advance(seconds=10)  # what is left is backing off

        assert _ids_per_key(broker.messages) == _ids_per_key(written)
        rows = await backend.rows()
        assert {i: row.attempts for i, row in enumerate(rows) if row.attempts > 1} == {
            0: 3,
            4: 2,
            6: 2,
        }
        assert {row.status for row in rows} == {OutboxStatus.PUBLISHED}

    async def test_relays_at_once_publish_each_row_once_in_key_order(
        self, backend: OutboxStoreBackend
    ) -> None:
        written = _messages(*(f"k{index % 7}" for index in range(60)))
        await backend.write(written)
        broker = FailingBroker(delay=0)  # each send yields, so the relays interleave
        stores = (backend.store, backend.another_store())
        relays = [OutboxRelay(store, broker, batch_size=10) for store in stores]

        async def drain(relay: OutboxRelay) -> None:
            while await relay.run_once():
                pass

        await asyncio.wait_for(asyncio.gather(*(drain(relay) for relay in relays)), _DEADLINE)
        await asyncio.wait_for(asyncio.gather(*(drain(relay) for relay in relays)), _DEADLINE)

        assert len(broker.messages) == len(written)
        assert _ids_per_key(broker.messages) == _ids_per_key(written)

    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_relays_at_once_keep_each_keys_order_through_random_failures(
        self, backend: OutboxStoreBackend, seed: int
    ) -> None:
        written = _messages(*(f"k{index % 6}" for index in range(180)))
        await backend.write(written)
        broker = FailingBroker(failure_rate=0.2, seed=seed, delay=0)
        # Failed rows are due again at once, so the relays keep contending for them.
        retry = RetryPolicy(max_attempts=1000, initial_delay=datetime.timedelta(0))
        stores = [backend.store, *(backend.another_store() for _ in range(3))]
        relays = [OutboxRelay(store, broker, batch_size=7, retry=retry) for store in stores]

        async def drain(relay: OutboxRelay) -> None:
            for _ in range(2000):
                if len(broker.messages) == len(written):
                    return
                await relay.run_once()
                await asyncio.sleep(0)  # a pass that took nothing may not have yielded
            raise AssertionError(f"relays stalled after {len(broker.messages)} of {len(written)}")

        await asyncio.wait_for(asyncio.gather(*(drain(relay) for relay in relays)), 120)

        assert len(broker.messages) == len(written)  # each once
        assert _ids_per_key(broker.messages) == _ids_per_key(written)

    async def test_purge_published_deletes_only_rows_published_before_the_cutoff(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        await backend.write(_messages("a", "b"))
        await OutboxRelay(backend.store, InMemoryMessageBroker()).run_once()
        await backend.write(_messages("c"))
        second = datetime.timedelta(seconds=1)

        assert await backend.store.purge_published(clock() - second) == 0
        assert await backend.store.purge_published(clock() + second) == 2
        assert _states(await backend.rows()) == [(OutboxStatus.PENDING, 0)]

    async def test_the_relay_applies_the_retention_policy_on_its_schedule(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        await backend.write(_messages("a", "b"))
        relay = OutboxRelay(
            backend.store,
            InMemoryMessageBroker(),
            retention=datetime.timedelta(hours=1),
            purge_interval=datetime.timedelta(hours=2),
            clock=clock,
        )
        await relay.run_once()

        assert await relay.purge_if_due() == 0  # published just now: kept
        clock.advance(datetime.timedelta(minutes=90))
        assert await relay.purge_if_due() == 0  # old enough, but the last purge was 90 min ago
        clock.advance(datetime.timedelta(minutes=30))
        assert await relay.purge_if_due() == 2
        assert await backend.rows() == []

    async def test_without_retention_the_relay_keeps_every_row(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        await backend.write(_messages("a"))
        relay = OutboxRelay(backend.store, InMemoryMessageBroker(), retention=None, clock=clock)
        await relay.run_once()
        clock.advance(datetime.timedelta(days=365))

        assert await relay.purge_if_due() == 0
        assert _states(await backend.rows()) == [(OutboxStatus.PUBLISHED, 1)]

    async def test_wait_for_rows_returns_by_its_timeout(self, backend: OutboxStoreBackend) -> None:
        await asyncio.wait_for(backend.store.wait_for_rows(0.01), _DEADLINE)

    async def test_the_documented_producer_loop_publishes_every_row_once(
        self, backend: OutboxStoreBackend
    ) -> None:
        written = _messages("a", "b", "a", None, "c")
        await backend.write(written)
        broker = InMemoryMessageBroker()
        producer = EventProducer(broker, backend.store)
        seen = 0

        async for rows in producer.event_batch_generator(batch_size=2):
            for row in rows:
                await producer.send_message(row)
            await producer.repository.commit()
            seen += len(rows)
            if seen == len(written):  # the documented loop runs forever: end the test
                break

        assert [m.message_id for m in broker.messages] == [m.message_id for m in written]
        assert _states(await backend.rows()) == [(OutboxStatus.PUBLISHED, 1)] * 5

    async def test_a_producers_failed_row_backs_off_and_holds_back_its_key(
        self, backend: OutboxStoreBackend, clock: FakeClock
    ) -> None:
        written = _messages("a", "a", "b")
        await backend.write(written)
        broker = FailingBroker()
        broker.refuse(1, where=_named("event0"))
        producer = EventProducer(broker, backend.store, retry=_RETRY)
        generator = producer.event_batch_generator()

        outcomes = [await producer.send_message(row) for row in await anext(generator)]
        await producer.repository.commit()
        after_failure = _states(await backend.rows())
        clock.advance(seconds=10)
        for row in await anext(generator):
            await producer.send_message(row)
        await producer.repository.commit()
        await generator.aclose()

        assert outcomes == [False, False, True]
        assert after_failure == [
            (OutboxStatus.PENDING, 1),
            (OutboxStatus.PENDING, 0),
            (OutboxStatus.PUBLISHED, 1),
        ]
        assert [m.message_id for m in broker.messages] == [
            written[2].message_id,
            written[0].message_id,
            written[1].message_id,
        ]
        assert _states(await backend.rows()) == [
            (OutboxStatus.PUBLISHED, 2),
            (OutboxStatus.PUBLISHED, 1),
            (OutboxStatus.PUBLISHED, 1),
        ]

    async def test_rows_committed_while_a_producer_waits_are_handed_out(
        self, backend: OutboxStoreBackend
    ) -> None:
        # A store that cannot be woken finds the row at the next poll.
        producer = EventProducer(InMemoryMessageBroker(), backend.store, poll_interval=0.05)
        generator = producer.event_batch_generator()
        next_batch = asyncio.ensure_future(anext(generator))

        written = _messages("a")
        await backend.write(written)
        batch = await asyncio.wait_for(next_batch, _DEADLINE)
        await producer.repository.rollback()
        await generator.aclose()

        assert [row.message.message_id for row in batch] == [written[0].message_id]
