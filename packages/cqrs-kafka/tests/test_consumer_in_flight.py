"""`subscribe_events(..., max_in_flight=...)` on a real broker: records of other keys pass a
held one, each key keeps its order, a key being retried or dead-lettered holds up no other
key, and the committed offset never passes a record that is not settled."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing
import uuid

import pydantic
import pytest
from faststream.kafka import KafkaBroker

from cqrs.consumer import ConsumerRetry
from cqrs.events import EventHandler, EventMap, EventMediator, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.message_brokers.protocol import Message
from cqrs.testing import registered_outbox_events
from cqrs.testing.consumer import until
from cqrs_kafka.consumer import current_delivery, subscribe_events
from cqrs_kafka.testing import committed_offset, read_records
from cqrs_kafka.topics import ensure_topics

from .test_consumer import produce, until_committed

PLACED = "in_flight_test_placed"
DEADLINE = 60.0  # seconds; every wait below ends by then or fails
# Apache Kafka refuses sessions under 6 s; Tansu lets a group form in half the session.
GROUP_OPTIONS: dict[str, typing.Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


class Placed(pydantic.BaseModel):
    order_id: str


OrderPlaced = NotificationEvent[Placed]
Handle = collections.abc.Callable[[str], collections.abc.Awaitable[None]]


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({PLACED: OrderPlaced}):
        yield


@pytest.fixture
def group() -> str:
    return f"group-{uuid.uuid4().hex[:8]}"


def mediator_for(handle: Handle) -> EventMediator:
    """A mediator whose one handler of `OrderPlaced` calls `handle` with the order id."""

    class Handler(EventHandler[NotificationEvent[typing.Any]]):
        async def handle(self, event: NotificationEvent[typing.Any]) -> None:
            await handle(event.payload.order_id)

    def bind(events: EventMap) -> None:
        events.bind(OrderPlaced, Handler)

    return bootstrap(events_mapper=bind)


def keyed(topic: str, key: str, n: int) -> Message:
    """The `n`th message of key `key`; its order id is `<key>.<n>`."""
    event = OrderPlaced(event_name=PLACED, topic=topic, payload=Placed(order_id=f"{key}.{n}"))
    return Message.from_event(event, key=key)


@contextlib.asynccontextmanager
async def consuming(
    bootstrap_servers: str, topic: str, group: str, handle: Handle, **options: typing.Any
) -> collections.abc.AsyncGenerator[None, None]:
    """A started broker running one consumer with four records of a partition in flight."""
    broker = KafkaBroker(bootstrap_servers)
    subscribe_events(
        broker,
        topic,
        group_id=group,
        mediator=mediator_for(handle),
        max_in_flight=4,
        **GROUP_OPTIONS,
        **options,
    )
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


def of_key(handled: list[str], key: str) -> list[str]:
    return [order_id for order_id in handled if order_id.split(".")[0] == key]


async def test_other_keys_pass_a_held_record_and_each_key_keeps_its_order(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    keys = ("a", "b", "c")
    await produce(
        kafka_bootstrap_servers, *(keyed(kafka_topic, k, n) for n in range(4) for k in keys)
    )
    handled: list[str] = []
    others_done = asyncio.Event()

    async def handle(order_id: str) -> None:
        if order_id == "a.0":
            # Only records settled beside this one, not after it, let it finish.
            await asyncio.wait_for(others_done.wait(), DEADLINE)
        handled.append(order_id)
        if len(of_key(handled, "b")) + len(of_key(handled, "c")) == 8:
            others_done.set()

    async with consuming(kafka_bootstrap_servers, kafka_topic, group, handle):
        await until(lambda: len(handled) == 12, "every record")
        await until_committed(kafka_bootstrap_servers, group, kafka_topic, 0, 12)

    assert handled.index("a.0") == 8  # b and c went past it
    for key in keys:
        assert of_key(handled, key) == [f"{key}.{n}" for n in range(4)]


async def test_a_dead_lettered_key_holds_up_no_other_and_the_offset_waits_for_it(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1, f"{kafka_topic}.dlq": 1})
    poison = keyed(kafka_topic, "a", 0)
    await produce(
        kafka_bootstrap_servers,
        keyed(kafka_topic, "b", 0),  # offset 0
        poison,  # offset 1
        *(keyed(kafka_topic, "b", n) for n in range(1, 4)),  # offsets 2 to 4
    )
    handled: list[str] = []
    give_up = asyncio.Event()

    async def handle(order_id: str) -> None:
        if order_id == "a.0":
            await asyncio.wait_for(give_up.wait(), DEADLINE)
            raise ValueError("no such warehouse")
        handled.append(order_id)

    async with consuming(
        kafka_bootstrap_servers, kafka_topic, group, handle, retry=ConsumerRetry(attempts=1)
    ):
        await until(lambda: handled == [f"b.{n}" for n in range(4)], "key b, past a.0")
        await until_committed(kafka_bootstrap_servers, group, kafka_topic, 0, 1)
        give_up.set()
        await until_committed(kafka_bootstrap_servers, group, kafka_topic, 0, 5)

    [dead] = await read_records(kafka_bootstrap_servers, f"{kafka_topic}.dlq", 1)
    assert dead.key == b"a"
    assert str(poison.message_id).encode() in dict(dead.headers).values()


async def test_a_stop_commits_the_settled_prefix_only_and_the_next_consumer_gets_the_rest(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    await produce(
        kafka_bootstrap_servers,
        keyed(kafka_topic, "b", 0),  # offset 0
        keyed(kafka_topic, "a", 0),  # offset 1: its store is down for the first consumer
        keyed(kafka_topic, "b", 1),  # offset 2
        keyed(kafka_topic, "c", 0),  # offset 3
    )
    first: list[str] = []
    tries = 0

    async def store_down(order_id: str) -> None:
        nonlocal tries
        if order_id == "a.0":
            tries += 1
            raise ConnectionError("the warehouse is down")
        first.append(order_id)

    retry = ConsumerRetry(attempts=2, initial_delay=60.0, max_delay=60.0)
    async with consuming(kafka_bootstrap_servers, kafka_topic, group, store_down, retry=retry):
        await until(lambda: tries == 1 and len(first) == 3, "b and c, with a.0 retrying")
    # The broker stopped without waiting (no graceful_timeout): a.0's retry was cancelled.
    assert await committed_offset(kafka_bootstrap_servers, group, kafka_topic) == 1

    second: list[tuple[str, int]] = []

    async def handle(order_id: str) -> None:
        second.append((order_id, current_delivery().offset))

    async with consuming(kafka_bootstrap_servers, kafka_topic, group, handle):
        await until_committed(kafka_bootstrap_servers, group, kafka_topic, 0, 4)

    assert sorted(second) == [("a.0", 1), ("b.1", 2), ("c.0", 3)]
