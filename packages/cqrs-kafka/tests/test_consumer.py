"""`subscribe_events` beyond the consumer contract (`test_consumer_contract.py`): headers
that are not text, consumer groups and rebalances, a broker outage, the FastStream side,
and the checks made when subscribing."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import typing
import uuid

import pydantic
import pytest
from aiokafka.structs import TopicPartition
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from cqrs.consumer import ConsumerHealth
from cqrs.events import EventHandler, EventMap, EventMediator, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.exceptions import ConfigurationError
from cqrs.inbox import InvalidInboxKeyError, MemoryInbox
from cqrs.message_brokers.protocol import Message
from cqrs.testing import registered_outbox_events
from cqrs.testing.consumer import until
from cqrs_kafka import KafkaMessageBroker, KafkaProducerAdapter, LocalKafkaBroker
from cqrs_kafka.broker import record_headers, record_value
from cqrs_kafka.consumer import (
    Delivery,
    NoDeliveryError,
    current_delivery,
    fetch_settings,
    subscribe_events,
)
from cqrs_kafka.testing import committed_offset
from cqrs_kafka.topics import ensure_topics

PLACED = "consumer_test_placed"
DEADLINE = 60.0  # seconds; every wait below ends by then or fails
# Apache Kafka refuses sessions under 6 s; Tansu lets a group form in half the session.
GROUP_OPTIONS: dict[str, typing.Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
OUTAGE_SECONDS = 8.0


class Placed(pydantic.BaseModel):
    order_id: str


OrderPlaced = NotificationEvent[Placed]


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events({PLACED: OrderPlaced}):
        yield


Handle = collections.abc.Callable[[NotificationEvent[typing.Any]], collections.abc.Awaitable[None]]


def mediator_for(handle: Handle) -> EventMediator:
    """A mediator whose one handler of `OrderPlaced` calls `handle`."""

    class Handler(EventHandler[NotificationEvent[typing.Any]]):
        async def handle(self, event: NotificationEvent[typing.Any]) -> None:
            await handle(event)

    def bind(events: EventMap) -> None:
        events.bind(OrderPlaced, Handler)

    return bootstrap(events_mapper=bind)


class Recorder:
    """A handler that records each event with its delivery."""

    def __init__(self) -> None:
        self.seen: list[tuple[NotificationEvent[typing.Any], Delivery]] = []

    async def __call__(self, event: NotificationEvent[typing.Any]) -> None:
        self.seen.append((event, current_delivery()))

    def order_ids(self) -> list[str]:
        return [event.payload.order_id for event, _ in self.seen]


def placed(order_id: str, topic: str) -> Message:
    return Message.from_event(
        OrderPlaced(event_name=PLACED, topic=topic, payload=Placed(order_id=order_id)),
        key=order_id,
    )


async def produce(bootstrap_servers: str, *messages: Message) -> None:
    async with KafkaMessageBroker(KafkaProducerAdapter(bootstrap_servers)) as publisher:
        for message in messages:
            await publisher.send_message(message)


@contextlib.asynccontextmanager
async def consuming(
    bootstrap_servers: str, topic: str, *, group: str, mediator: EventMediator
) -> collections.abc.AsyncGenerator[KafkaBroker, None]:
    """A started FastStream broker running one `subscribe_events` consumer."""
    broker = KafkaBroker(bootstrap_servers)
    subscribe_events(broker, topic, group_id=group, mediator=mediator, **GROUP_OPTIONS)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture
def group() -> str:
    return f"group-{uuid.uuid4().hex[:8]}"


async def test_a_record_with_a_header_that_is_not_utf8_is_handled(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    message = placed("o1", kafka_topic)
    async with KafkaProducerAdapter(kafka_bootstrap_servers) as producer:
        await producer.send(
            kafka_topic,
            record_value(message),
            key=b"o1",
            headers=[*record_headers(message), ("x-binary", b"\xff\xfe")],
        )
    recorder = Recorder()

    async with consuming(
        kafka_bootstrap_servers, kafka_topic, group=group, mediator=mediator_for(recorder)
    ):
        await until(lambda: len(recorder.seen) == 1, "the event")

    _, delivery = recorder.seen[0]
    assert delivery.headers["x-binary"] == "\ufffd\ufffd"
    assert delivery.message_id == message.message_id


async def test_two_consumers_of_a_group_split_the_partitions_and_handle_each_record_once(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 3})
    recorders = [Recorder(), Recorder()]
    brokers = [KafkaBroker(kafka_bootstrap_servers) for _ in recorders]
    subscribers = [
        subscribe_events(
            broker, kafka_topic, group_id=group, mediator=mediator_for(recorder), **GROUP_OPTIONS
        )
        for broker, recorder in zip(brokers, recorders, strict=True)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for broker in brokers:
            await broker.start()
            stack.push_async_callback(broker.stop)

        def split() -> bool:
            assigned: list[collections.abc.Set[TopicPartition]] = [
                subscriber.consumer.assignment() if subscriber.consumer else frozenset()
                for subscriber in subscribers
            ]
            return all(assigned) and len(assigned[0] | assigned[1]) == 3

        await until(split, "the group to give each consumer partitions")
        messages = [placed(f"o{n}", kafka_topic) for n in range(30)]
        await produce(kafka_bootstrap_servers, *messages)
        await until(
            lambda: sum(len(recorder.seen) for recorder in recorders) >= len(messages),
            "every record",
        )

    handled = [delivery.message_id for recorder in recorders for _, delivery in recorder.seen]
    assert sorted(handled) == sorted(message.message_id for message in messages)
    partitions = [{delivery.partition for _, delivery in r.seen} for r in recorders]
    assert all(partitions)
    assert not partitions[0] & partitions[1]


async def test_a_consumer_joining_mid_stream_takes_over_where_the_first_committed(
    kafka_bootstrap_servers: str, kafka_topic: str, group: str
) -> None:
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 2})
    messages = [placed(f"o{n}", kafka_topic) for n in range(40)]
    await produce(kafka_bootstrap_servers, *messages)
    first, second = Recorder(), Recorder()
    gate = asyncio.Event()

    async def slow_first(event: NotificationEvent[typing.Any]) -> None:
        await first(event)
        if len(first.seen) >= 5:
            await gate.wait()  # in progress when the second consumer joins

    brokers = [KafkaBroker(kafka_bootstrap_servers) for _ in range(2)]
    for broker, handle in zip(brokers, (slow_first, second), strict=True):
        subscribe_events(
            broker, kafka_topic, group_id=group, mediator=mediator_for(handle), **GROUP_OPTIONS
        )
    async with contextlib.AsyncExitStack() as stack:
        await brokers[0].start()
        stack.push_async_callback(brokers[0].stop)
        await until(lambda: len(first.seen) >= 5, "the first consumer to be under way")
        await brokers[1].start()
        stack.push_async_callback(brokers[1].stop)
        gate.set()  # the rebalance waits for the record in progress, then commits
        await until(lambda: bool(second.seen), "the second consumer to take over")

        def all_handled() -> bool:
            handled = {d.message_id for r in (first, second) for _, d in r.seen}
            return handled >= {message.message_id for message in messages}

        await until(all_handled, "every record")
        for partition in range(2):
            ends = {
                d.offset for r in (first, second) for _, d in r.seen if d.partition == partition
            }
            end = max(ends) + 1
            await until_committed(kafka_bootstrap_servers, group, kafka_topic, partition, end)

    for recorder in (first, second):
        for partition in range(2):
            offsets = [d.offset for _, d in recorder.seen if d.partition == partition]
            assert offsets == sorted(offsets)  # each consumer kept each partition's order


async def until_committed(
    bootstrap_servers: str, group: str, topic: str, partition: int, offset: int
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while await committed_offset(bootstrap_servers, group, topic, partition) != offset:
        assert loop.time() < deadline, f"{group} did not commit {offset} on {topic}[{partition}]"
        await asyncio.sleep(0.05)


async def test_a_paused_broker_loses_nothing_once_resumed(kafka_topic: str, group: str) -> None:
    messages = [placed(f"o{n}", kafka_topic) for n in range(40)]
    before, during = messages[:20], messages[20:]
    recorder = Recorder()
    with LocalKafkaBroker() as local:
        servers = local.bootstrap_servers
        await ensure_topics(servers, {kafka_topic: 1})
        async with consuming(servers, kafka_topic, group=group, mediator=mediator_for(recorder)):
            await produce(servers, *before)
            await until(lambda: len(recorder.seen) >= 5, "the consumer to be under way")
            local.pause()
            try:
                # The producer sends the rest into the frozen broker. The outage's length
                # (longer than the group's session timeout) is the scenario, not a
                # synchronisation.
                producing = asyncio.ensure_future(produce(servers, *during))
                await asyncio.sleep(OUTAGE_SECONDS)
            finally:
                local.resume()
            await asyncio.wait_for(producing, DEADLINE)
            await until(
                lambda: (
                    {delivery.message_id for _, delivery in recorder.seen}
                    >= {message.message_id for message in messages}
                ),
                "every record after the outage",
            )

    # In order, at least once (a commit lost in the outage may repeat a record).
    first_seen = list(dict.fromkeys(recorder.order_ids()))
    assert first_seen == [f"o{n}" for n in range(len(messages))]


def test_the_subscriber_shows_its_health_and_its_topics_in_the_asyncapi_document() -> None:
    broker = KafkaBroker("localhost:9092")
    health = ConsumerHealth()
    subscriber = subscribe_events(
        broker,
        "orders",
        group_id="g",
        mediator=mediator_for(Recorder()),
        health=health,
        title="orders-consumer",
    )

    schema = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()

    assert subscriber.health is health
    assert "orders-consumer" in str(schema)


def options(name: str) -> dict[str, typing.Any]:
    """`{name: 1}`, as options of any name are passed."""
    return {name: 1}


def test_current_delivery_outside_a_handler_is_a_lookup_error() -> None:
    with pytest.raises(NoDeliveryError, match="current_delivery\\(\\) works inside") as caught:
        current_delivery()
    assert isinstance(caught.value, LookupError)


def test_an_inbox_needs_a_transaction() -> None:
    with pytest.raises(ConfigurationError, match="pass transaction="):
        subscribe_events(
            KafkaBroker(),
            "orders",
            group_id="g",
            mediator=mediator_for(Recorder()),
            inbox=MemoryInbox(),
        )


@pytest.mark.parametrize(
    "option",
    [
        "batch",
        "ack_policy",
        "auto_commit",
        "enable_auto_commit",
        "decoder",
        "listener",
        "max_workers",
    ],
)
def test_options_the_consumer_sets_itself_are_refused(option: str) -> None:
    with pytest.raises(ConfigurationError, match=f"sets {option} itself"):
        subscribe_events(
            KafkaBroker(),
            "orders",
            group_id="g",
            mediator=mediator_for(Recorder()),
            **options(option),
        )


@pytest.mark.parametrize(
    ("option", "message"),
    [("fetch_max_wiat_ms", "does not know fetch_max_wiat_ms"), ("client_id", "come from the")],
)
def test_options_that_are_not_the_consumers_to_take_are_refused(option: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        subscribe_events(
            KafkaBroker(),
            "orders",
            group_id="g",
            mediator=mediator_for(Recorder()),
            **options(option),
        )


def test_no_topics_and_a_consumer_name_the_inbox_cannot_store_are_refused_at_once() -> None:
    inbox = MemoryInbox()
    with pytest.raises(ConfigurationError, match="at least one topic"):
        subscribe_events(KafkaBroker(), group_id="g", mediator=mediator_for(Recorder()))
    with pytest.raises(ConfigurationError, match="max_buffered >= 2"):
        subscribe_events(
            KafkaBroker(), "orders", group_id="g", mediator=mediator_for(Recorder()), max_buffered=1
        )
    with pytest.raises(InvalidInboxKeyError):
        subscribe_events(
            KafkaBroker(),
            "orders",
            group_id="g",
            mediator=mediator_for(Recorder()),
            transaction=lambda: inbox.session().begin(),
            inbox=inbox,
            consumer_name="x" * 256,
        )


def test_the_fetch_settings_default_to_a_short_wait_and_follow_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS", raising=False)
    monkeypatch.delenv("KAFKA_FETCH_MIN_BYTES", raising=False)
    assert fetch_settings() == {"fetch_max_wait_ms": 10, "fetch_min_bytes": 1}
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "25")
    monkeypatch.setenv("KAFKA_FETCH_MIN_BYTES", " 512 ")
    assert fetch_settings() == {"fetch_max_wait_ms": 25, "fetch_min_bytes": 512}


def test_a_fetch_variable_that_is_no_whole_number_is_refused_when_subscribing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "0.5s")
    with pytest.raises(ConfigurationError, match=r"KAFKA_FETCH_MAX_WAIT_MS='0.5s' .* milliseconds"):
        subscribe_events(KafkaBroker(), "orders", group_id="g", mediator=mediator_for(Recorder()))


async def test_the_started_consumer_fetches_with_the_short_wait_unless_told_otherwise(
    kafka_topic: str, group: str, kafka_bootstrap_servers: str
) -> None:
    broker = KafkaBroker(kafka_bootstrap_servers, logger=None)
    default = subscribe_events(
        broker, kafka_topic, group_id=group, mediator=mediator_for(Recorder()), **GROUP_OPTIONS
    )
    told = subscribe_events(
        broker,
        kafka_topic,
        group_id=f"{group}-told",
        mediator=mediator_for(Recorder()),
        fetch_max_wait_ms=200,
        **GROUP_OPTIONS,
    )
    async with broker:
        await broker.start()
        waits = [
            subscriber.consumer._fetch_max_wait_ms  # pyright: ignore[reportOptionalMemberAccess, reportPrivateUsage]
            for subscriber in (default, told)
        ]
    assert waits == [10, 200]
