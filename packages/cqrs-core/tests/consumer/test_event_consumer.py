"""`EventConsumer` beyond the contract: flow control, releasing partitions, failing commits
and fetches, and its settings."""

from __future__ import annotations

import asyncio
import collections.abc
import typing

import pydantic
import pytest

from cqrs.consumer.event_consumer import EventConsumer
from cqrs.consumer.health import ConsumerHealth
from cqrs.consumer.memory import MemoryBroker, MemoryRecord, MemoryTransport
from cqrs.consumer.pipeline import EventPipeline
from cqrs.consumer.record import Partition
from cqrs.consumer.retry import ConsumerRetry
from cqrs.events import EventHandler, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.exceptions import ConfigurationError
from cqrs.inbox.memory import MemoryInbox
from cqrs.message_brokers.protocol import EVENT_NAME_HEADER, MESSAGE_ID_HEADER, payload_json

NAME = "event_consumer_test_placed"
DEADLINE = 10.0


class Placed(pydantic.BaseModel):
    order_id: str


OrderPlaced = NotificationEvent[Placed]
Handle = collections.abc.Callable[[OrderPlaced], collections.abc.Awaitable[None]]


def append(
    broker: MemoryBroker, order_id: str, partition: int = 0, key: bytes | None = None
) -> MemoryRecord:
    event = OrderPlaced(event_name=NAME, topic="orders", payload=Placed(order_id=order_id))
    return broker.append(
        "orders",
        payload_json(event.to_dict()),
        key=key,
        headers=[
            (MESSAGE_ID_HEADER, str(event.event_id).encode()),
            (EVENT_NAME_HEADER, NAME.encode()),
        ],
        partition=partition,
    )


def pipeline(handle: Handle, broker: MemoryBroker, **options: typing.Any) -> EventPipeline:
    class Handler(EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            await handle(event)

    mediator = bootstrap(events_mapper=lambda events: events.bind(OrderPlaced, Handler))
    return EventPipeline(
        mediator=mediator,
        dead_letters=broker,
        consumer_name="billing",
        events={NAME: OrderPlaced},
        **options,
    )


async def until(condition: collections.abc.Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "gave up waiting"
        await asyncio.sleep(0.005)


class RecordingTransport(MemoryTransport):
    """The memory transport, noting pauses and resumes, and failing the first commits
    and fetches it is told to."""

    def __init__(self, broker: MemoryBroker, failing_commits: int = 0, failing_fetches: int = 0):
        super().__init__(broker, ["orders"], "billing")
        self.flow: list[str] = []
        self.failing_commits = failing_commits
        self.failing_fetches = failing_fetches

    def pause(self, partition: Partition) -> None:
        self.flow.append("pause")
        super().pause(partition)

    def resume(self, partition: Partition) -> None:
        self.flow.append("resume")
        super().resume(partition)

    async def commit(self, positions: collections.abc.Mapping[Partition, int]) -> None:
        if self.failing_commits:
            self.failing_commits -= 1
            raise ConnectionError("the coordinator is away")
        await super().commit(positions)

    async def fetch(self, max_records: int) -> list[MemoryRecord]:
        if self.failing_fetches:
            self.failing_fetches -= 1
            raise ConnectionError("the broker is away")
        return await super().fetch(max_records)


async def test_a_partition_with_too_many_records_waiting_is_paused_then_resumed() -> None:
    broker = MemoryBroker()
    for n in range(10):
        append(broker, f"o{n}")
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        await gate.wait()
        handled.append(event.payload.order_id)

    transport = RecordingTransport(broker)
    consumer = EventConsumer(transport, pipeline(handle, broker), max_buffered=4, max_records=2)
    async with consumer:
        await until(lambda: transport.flow == ["pause"])
        gate.set()
        await until(lambda: len(handled) == 10)
        await broker.wait_for_position("billing", "orders", 0, 10)

    assert handled == [f"o{n}" for n in range(10)]
    assert transport.flow[:2] == ["pause", "resume"]


async def test_releasing_a_partition_lets_the_try_in_progress_finish_and_drops_the_rest() -> None:
    broker = MemoryBroker()
    for n in range(3):
        append(broker, f"o{n}")
    started, finish = asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        if event.payload.order_id == "o1":
            started.set()
            await finish.wait()
        handled.append(event.payload.order_id)

    consumer = EventConsumer(broker.transport(["orders"], "billing"), pipeline(handle, broker))
    async with consumer:
        await asyncio.wait_for(started.wait(), DEADLINE)
        releasing = asyncio.ensure_future(consumer.release([Partition("orders", 0)]))
        # Callbacks run in the order they were scheduled: the release begins before the
        # handler resumes.
        finish.set()
        await asyncio.wait_for(releasing, DEADLINE)
        assert broker.position("billing", "orders", 0) == 2  # o0 and o1, committed at once

    assert handled == ["o0", "o1"]  # o2 was dropped, for the next owner


async def test_a_release_ends_the_retries_of_a_failing_record_without_settling_it() -> None:
    broker = MemoryBroker()
    append(broker, "o0")
    append(broker, "stuck")
    tries = 0

    async def handle(event: OrderPlaced) -> None:
        nonlocal tries
        if event.payload.order_id == "stuck":
            tries += 1
            raise ConnectionError("the warehouse is down")

    retry = ConsumerRetry(attempts=2, initial_delay=60.0, max_delay=60.0)
    consumer = EventConsumer(
        broker.transport(["orders"], "billing"), pipeline(handle, broker, retry=retry)
    )
    async with consumer:
        await until(lambda: tries == 1)  # now waiting a minute for the next try
        await asyncio.wait_for(consumer.release([Partition("orders", 0)]), DEADLINE)

        assert broker.position("billing", "orders", 0) == 1
    assert broker.records("orders.dlq") == []


async def test_stopping_without_time_to_finish_cancels_the_try_and_rolls_it_back() -> None:
    broker = MemoryBroker()
    record = append(broker, "o0")
    inbox = MemoryInbox()
    started = asyncio.Event()

    async def handle(event: OrderPlaced) -> None:
        started.set()
        await asyncio.Event().wait()

    consumer = EventConsumer(
        broker.transport(["orders"], "billing"),
        pipeline(handle, broker, transaction=lambda: inbox.session().begin(), inbox=inbox),
        stop_timeout=0.0,
    )
    consumer.start()
    await asyncio.wait_for(started.wait(), DEADLINE)
    await asyncio.wait_for(consumer.stop(), DEADLINE)

    assert inbox.records() == []
    assert broker.position("billing", "orders", record.partition) is None


async def test_a_failed_commit_is_reported_and_made_again() -> None:
    broker = MemoryBroker()
    append(broker, "o0")
    health = ConsumerHealth(unhealthy_after=0.0)
    transport = RecordingTransport(broker, failing_commits=2)

    async def handle(event: OrderPlaced) -> None:
        pass

    async with EventConsumer(transport, pipeline(handle, broker, health=health)):
        await until(lambda: not health.healthy)
        assert health.report()["troubles"][0]["what"] == "commit"
        await broker.wait_for_position("billing", "orders", 0, 1)
        await until(lambda: health.healthy)


async def test_a_failed_fetch_is_reported_and_made_again() -> None:
    broker = MemoryBroker()
    append(broker, "o0")
    health = ConsumerHealth(unhealthy_after=0.0)
    transport = RecordingTransport(broker, failing_fetches=1)
    handled: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        handled.append(event.payload.order_id)

    async with EventConsumer(transport, pipeline(handle, broker, health=health)):
        await until(lambda: not health.healthy)
        assert health.report()["troubles"][0]["what"] == "fetch"
        await until(lambda: handled == ["o0"])
        assert health.healthy


@pytest.mark.parametrize(
    "options",
    [
        {"max_buffered": 1},
        {"max_records": 0},
        {"max_in_flight": 0},
        {"commit_interval": -1.0},
        {"stop_timeout": -1.0},
    ],
)
def test_settings_that_cannot_work_are_refused(options: dict[str, typing.Any]) -> None:
    broker = MemoryBroker()

    async def handle(event: OrderPlaced) -> None:
        pass

    with pytest.raises(ConfigurationError):
        EventConsumer(broker.transport(["orders"], "billing"), pipeline(handle, broker), **options)


def test_an_inbox_needs_a_transaction_and_a_consumer_name_it_can_store() -> None:
    broker = MemoryBroker()

    async def handle(event: OrderPlaced) -> None:
        pass

    with pytest.raises(ConfigurationError, match="pass transaction="):
        pipeline(handle, broker, inbox=MemoryInbox())


async def test_a_worker_ended_by_a_stray_cancellation_stops_its_partition_and_says_so() -> None:
    broker = MemoryBroker()
    for n in range(3):
        append(broker, f"o{n}")
    health = ConsumerHealth(unhealthy_after=0.0)
    handled: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        if event.payload.order_id == "o1":
            raise asyncio.CancelledError  # not the consumer's doing
        handled.append(event.payload.order_id)

    async with EventConsumer(
        broker.transport(["orders"], "billing"), pipeline(handle, broker, health=health)
    ):
        await until(lambda: not health.healthy)
        assert "worker orders[0]" in health.report()["troubles"][0]["what"]
        await broker.wait_for_position("billing", "orders", 0, 1)

    assert handled == ["o0"]  # o1 was not passed over
    assert broker.position("billing", "orders", 0) == 1


def append_keyed(broker: MemoryBroker, key: str, n: int) -> MemoryRecord:
    """A record of key `key` on partition 0, whose order id is `<key>.<n>`."""
    return append(broker, f"{key}.{n}", key=key.encode())


async def test_records_of_other_keys_pass_a_held_one_and_each_key_keeps_its_order() -> None:
    broker = MemoryBroker()
    for n in range(3):
        for key in ("a", "b", "c"):
            append_keyed(broker, key, n)
    release_a0 = asyncio.Event()
    handled: list[str] = []
    running: set[str] = set()
    most_running = 0

    async def handle(event: OrderPlaced) -> None:
        nonlocal most_running
        order_id = event.payload.order_id
        running.add(order_id)
        most_running = max(most_running, len(running))
        if order_id == "a.0":
            await release_a0.wait()
        else:
            await asyncio.sleep(0)  # lets another try start meanwhile
        running.discard(order_id)
        handled.append(order_id)

    consumer = EventConsumer(
        broker.transport(["orders"], "billing"), pipeline(handle, broker), max_in_flight=2
    )
    async with consumer:
        await until(lambda: len(handled) == 6)  # b and c, while a.0 is held
        assert not any(order_id.startswith("a.") for order_id in handled)
        assert broker.position("billing", "orders", 0) is None  # a.0, at offset 0, holds it
        release_a0.set()
        await broker.wait_for_position("billing", "orders", 0, 9)

    for key in ("a", "b", "c"):
        assert [o for o in handled if o.startswith(key)] == [f"{key}.{n}" for n in range(3)]
    assert most_running == 2


async def test_a_key_being_retried_is_never_committed_past_then_its_dead_letter_is() -> None:
    broker = MemoryBroker()
    append_keyed(broker, "b", 0)  # offset 0
    stuck = append_keyed(broker, "a", 0)  # offset 1
    for n in range(1, 4):
        append_keyed(broker, "b", n)  # offsets 2 to 4
    give_up = asyncio.Event()
    handled: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        if event.payload.order_id == "a.0":
            await give_up.wait()
            raise ValueError("no such warehouse")
        handled.append(event.payload.order_id)

    retry = ConsumerRetry(attempts=1)
    consumer = EventConsumer(
        broker.transport(["orders", "other"], "billing"),
        pipeline(handle, broker, retry=retry),
        max_in_flight=4,
    )
    async with consumer:
        await until(lambda: handled == [f"b.{n}" for n in range(4)])
        # A record of another partition settled after them: its commit carries every
        # position noted before it, so partition 0 stops where its settled prefix ends.
        broker.append("other", b"{not json")
        await broker.wait_for_position("billing", "other", 0, 1)
        assert broker.position("billing", "orders", 0) == 1
        give_up.set()
        await broker.wait_for_position("billing", "orders", 0, 5)

    [dead] = broker.records("orders.dlq")
    assert dead.value == stuck.value


async def test_a_release_commits_the_settled_prefix_only_and_the_next_owner_gets_the_rest() -> None:
    broker = MemoryBroker()
    append_keyed(broker, "b", 0)  # offset 0
    append_keyed(broker, "a", 0)  # offset 1, failing until the next owner
    for n in range(1, 3):
        append_keyed(broker, "b", n)  # offsets 2 and 3
    tries = 0
    handled: list[str] = []

    async def failing_first(event: OrderPlaced) -> None:
        nonlocal tries
        if event.payload.order_id == "a.0":
            tries += 1
            raise ConnectionError("the warehouse is down")
        handled.append(event.payload.order_id)

    retry = ConsumerRetry(attempts=2, initial_delay=60.0, max_delay=60.0)
    first = EventConsumer(
        broker.transport(["orders"], "billing"),
        pipeline(failing_first, broker, retry=retry),
        max_in_flight=4,
    )
    async with first:
        await until(lambda: tries == 1 and len(handled) == 3)
    assert broker.position("billing", "orders", 0) == 1

    again: list[str] = []

    async def handle(event: OrderPlaced) -> None:
        again.append(event.payload.order_id)

    second = EventConsumer(
        broker.transport(["orders"], "billing"), pipeline(handle, broker), max_in_flight=4
    )
    async with second:
        await broker.wait_for_position("billing", "orders", 0, 4)
    assert sorted(again) == ["a.0", "b.1", "b.2"]  # consumed again from the stuck one on
