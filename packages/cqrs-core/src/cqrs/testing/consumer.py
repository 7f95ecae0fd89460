"""`ConsumerContract`: the tests every consumer transport must pass, on its real broker.

A broker adapter (cqrs-kafka's `subscribe_events`, or one for another broker)
runs cqrs's `EventPipeline` and `EventConsumer` over its `ConsumerTransport`
and `DeadLetterPublisher`. Subclass the contract in a test module under a
name starting with `Test`, and give it a `harness` fixture: a
`ConsumerHarness` that creates topics on the broker, produces records, runs
a consumer and reads back what it committed and dead-lettered.
`MemoryConsumerHarness`, on the in-memory transport, is the one to copy:

```python
import pytest

from cqrs.testing.consumer import ConsumerContract, ConsumerHarness, MemoryConsumerHarness


class TestMemoryConsumer(ConsumerContract):
    @pytest.fixture
    def harness(self) -> ConsumerHarness:
        return MemoryConsumerHarness()
```

What the suite needs: pytest and pytest-asyncio (the tests carry the
`asyncio` mark), a broker whose topics can be made to refuse records
(`ConsumerHarness.refusing`), and a consumer that has joined its topic's
partitions when `ConsumerHarness.consume` yields. Every wait ends by a
deadline (`DEADLINE` seconds) or fails; none is a sleep. Latencies are
compared with a baseline taken in the same test, with generous bounds.

Importing this module has no side effects; it only defines classes.
"""

from __future__ import annotations

import abc
import asyncio
import collections.abc
import contextlib
import dataclasses
import logging
import statistics
import typing
import uuid

import pydantic
import pytest

from cqrs.consumer.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    MAX_TEXT_BYTES,
    OMITTED_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
    VALUE_SIZE_HEADER,
    DeadLetterRetry,
)
from cqrs.consumer.delivery import Delivery, current_delivery
from cqrs.consumer.event_consumer import EventConsumer
from cqrs.consumer.health import ConsumerHealth
from cqrs.consumer.memory import MemoryBroker
from cqrs.consumer.pipeline import EventPipeline
from cqrs.consumer.record import Record, text_headers
from cqrs.consumer.retry import DEFAULT_PERMANENT, ConsumerRetry
from cqrs.events import EventHandler, EventMap, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.events.mediator import EventMediator
from cqrs.exceptions import EventHandlingError, PermanentError
from cqrs.inbox.memory import MemoryInbox, MemoryInboxSession
from cqrs.message_brokers.protocol import EVENT_NAME_HEADER, MESSAGE_ID_HEADER, payload_json

__all__ = (
    "ConsumerContract",
    "ConsumerHarness",
    "MemoryConsumerHarness",
    "RunningConsumer",
    "DEADLINE",
    "until",
)

#: Seconds any wait of the suite may take before the test fails.
DEADLINE = 60.0

_EVENT_NAME = "consumer_contract_order_placed"
_FAST_RETRY = ConsumerRetry(attempts=3, initial_delay=0.01, max_delay=0.05)
_LOGGER = "cqrs.consumer"


class _Order(pydantic.BaseModel):
    order_id: str


_OrderPlaced = NotificationEvent[_Order]
_EVENTS = {_EVENT_NAME: _OrderPlaced}
_Handle = collections.abc.Callable[[_OrderPlaced], collections.abc.Awaitable[None]]
#: Fails (raises) for the order it is given for, on the try numbered by its argument.
_Fail = collections.abc.Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class RunningConsumer:
    """A consumer a harness started: its health, and whether it has begun to stop."""

    health: ConsumerHealth
    stopping: collections.abc.Callable[[], bool]


class ConsumerHarness(abc.ABC):
    """A broker and a consumer on it, as the contract drives them."""

    #: The largest dead letter the broker takes whole, in bytes.
    max_dead_letter_size: int

    @abc.abstractmethod
    async def create_topic(self, topic: str, partitions: int) -> None:
        """Create `topic` with `partitions` partitions, and `<topic>.dlq` with one."""

    @abc.abstractmethod
    async def produce(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: collections.abc.Sequence[tuple[str, bytes]] = (),
        partition: int = 0,
    ) -> None:
        """Publish one record to `partition` of `topic`; return once the broker has it."""

    @abc.abstractmethod
    def consume(
        self, topic: str, *, group: str, stop_timeout: float, **pipeline: typing.Any
    ) -> contextlib.AbstractAsyncContextManager[RunningConsumer]:
        """Run a consumer of `topic` in consumer group `group`, whose pipeline takes the
        `EventPipeline` keyword arguments in `pipeline` (its dead letters go to the
        broker, `consumer_name` defaults to `group`).

        Yields once the consumer holds every partition of `topic`; when the block
        ends, stops it, letting its tries in progress finish for up to
        `stop_timeout` seconds.
        """

    @abc.abstractmethod
    async def committed(self, group: str, topic: str, partition: int) -> int | None:
        """The position `group` committed for `partition` of `topic`; `None` if none."""

    @abc.abstractmethod
    async def records(self, topic: str, count: int) -> list[Record]:
        """The first `count` records of `topic`, waiting for them (failing after `DEADLINE`)."""

    @abc.abstractmethod
    async def count(self, topic: str) -> int:
        """How many records `topic` holds now."""

    @abc.abstractmethod
    def refusing(self, topic: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Make the broker refuse every record of `topic` for as long as the block runs."""


class MemoryConsumerHarness(ConsumerHarness):
    """The harness of the in-memory transport (`cqrs.consumer.memory`).

    Dead-letter topics take records of at most `max_dead_letter_size` bytes,
    other topics any size.
    """

    def __init__(self, max_dead_letter_size: int = 64 * 1024) -> None:
        self.max_dead_letter_size = max_dead_letter_size
        self.broker = MemoryBroker(max_record_size=2**62)

    async def create_topic(self, topic: str, partitions: int) -> None:
        self.broker.create_topic(topic, partitions)
        self.broker.create_topic(f"{topic}.dlq", 1, max_record_size=self.max_dead_letter_size)

    async def produce(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: collections.abc.Sequence[tuple[str, bytes]] = (),
        partition: int = 0,
    ) -> None:
        self.broker.append(topic, value, key=key, headers=headers, partition=partition)

    @contextlib.asynccontextmanager
    async def consume(
        self, topic: str, *, group: str, stop_timeout: float, **pipeline: typing.Any
    ) -> collections.abc.AsyncGenerator[RunningConsumer, None]:
        pipeline.setdefault("consumer_name", group)
        consumer = EventConsumer(
            self.broker.transport([topic], group),
            EventPipeline[typing.Any](dead_letters=self.broker, **pipeline),
            stop_timeout=stop_timeout,
        )
        async with consumer:
            yield RunningConsumer(consumer.pipeline.health, lambda: not consumer.running)

    async def committed(self, group: str, topic: str, partition: int) -> int | None:
        return self.broker.position(group, topic, partition)

    async def records(self, topic: str, count: int) -> list[Record]:
        await until(lambda: len(self.broker.records(topic)) >= count, f"{count} on {topic}")
        return list(self.broker.records(topic)[:count])

    async def count(self, topic: str) -> int:
        return len(self.broker.records(topic))

    @contextlib.asynccontextmanager
    async def refusing(self, topic: str) -> collections.abc.AsyncGenerator[None, None]:
        self.broker.refuse(topic)
        try:
            yield
        finally:
            self.broker.refuse(topic, refusing=False)


# -- helpers ------------------------------------------------------------------


async def until(condition: collections.abc.Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail (`AssertionError`, naming `what`) after
    `DEADLINE` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {DEADLINE}s waiting for {what}")
        await asyncio.sleep(0.01)


async def _until_committed(
    harness: ConsumerHarness, group: str, topic: str, partition: int, position: int
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while await harness.committed(group, topic, partition) != position:
        if loop.time() > deadline:
            committed = await harness.committed(group, topic, partition)
            raise AssertionError(
                f"{group} committed {committed} on {topic}[{partition}], not {position}"
            )
        await asyncio.sleep(0.02)


async def _produce_order(
    harness: ConsumerHarness, topic: str, order_id: str, *, partition: int = 0
) -> uuid.UUID:
    """Publish an order event as a broker adapter writes it; return its message id."""
    event = _OrderPlaced(event_name=_EVENT_NAME, topic=topic, payload=_Order(order_id=order_id))
    await harness.produce(
        topic,
        payload_json(event.to_dict()),
        key=order_id.encode(),
        headers=[
            (MESSAGE_ID_HEADER, str(event.event_id).encode()),
            (EVENT_NAME_HEADER, _EVENT_NAME.encode()),
        ],
        partition=partition,
    )
    return event.event_id


def _consuming(
    harness: ConsumerHarness,
    topic: str,
    group: str,
    handle: _Handle,
    *,
    stop_timeout: float = 5.0,
    **pipeline: typing.Any,
) -> contextlib.AbstractAsyncContextManager[RunningConsumer]:
    """`harness.consume` with a mediator whose one handler of the order event calls
    `handle`, and the order event to decode."""
    return harness.consume(
        topic,
        group=group,
        stop_timeout=stop_timeout,
        mediator=_mediator(handle),
        events=_EVENTS,
        **pipeline,
    )


def _mediator(handle: _Handle) -> EventMediator:
    """A mediator whose one handler of the order event calls `handle`."""

    class Handler(EventHandler[_OrderPlaced]):
        async def handle(self, event: _OrderPlaced) -> None:
            await handle(event)

    def bind(events: EventMap) -> None:
        events.bind(_OrderPlaced, Handler)

    return bootstrap(events_mapper=bind)


class _Seen:
    """A handler that records each event and its delivery, and fails on the orders in
    `failing` (as the function given for them says)."""

    def __init__(
        self,
        failing: collections.abc.Mapping[str, collections.abc.Callable[[int], None]] | None = None,
    ) -> None:
        self.failing = dict(failing or {})
        self.calls: list[str] = []
        self.handled: list[tuple[_OrderPlaced, Delivery]] = []

    async def __call__(self, event: _OrderPlaced) -> None:
        order_id = event.payload.order_id
        self.calls.append(order_id)
        fail = self.failing.get(order_id)
        if fail is not None:
            fail(self.calls.count(order_id))
        self.handled.append((event, current_delivery()))

    def order_ids(self) -> list[str]:
        return [event.payload.order_id for event, _ in self.handled]


def _headers(record: Record) -> dict[str, str]:
    return text_headers(record.headers)


class _Permanent(PermanentError):
    pass


def _validation_error() -> pydantic.ValidationError:
    try:
        _Order.model_validate({"order_id": 7})
    except pydantic.ValidationError as error:
        return error
    raise AssertionError("the model took an int order id")


def _raise(error: BaseException) -> _Fail:
    def fail(_: int) -> None:
        raise error

    return fail


def _caused(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


# Permanent failures in their wrappings, and the retry policy each meets.
_PERMANENT_FAILURES: dict[str, tuple[BaseException, ConsumerRetry]] = {
    "a PermanentError": (_Permanent("no such SKU"), ConsumerRetry()),
    "a ValidationError": (_validation_error(), ConsumerRetry()),
    "a cause": (
        _caused(RuntimeError("reserving failed"), _Permanent("no such SKU")),
        ConsumerRetry(),
    ),
    "an EventHandlingError": (
        EventHandlingError([(object(), object, _Permanent("no such SKU"))]),
        ConsumerRetry(),
    ),
    "a configured type": (
        KeyError("sku"),
        ConsumerRetry(permanent=(*DEFAULT_PERMANENT, LookupError)),
    ),
}


class ConsumerContract:
    """The consumer contract as pytest tests; subclass it as `Test...` to run it.

    The subclass overrides the `harness` fixture; see the module docstring.
    """

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def harness(self) -> ConsumerHarness:
        """Override: a harness on the broker under test."""
        raise NotImplementedError(f"{type(self).__name__} must override the `harness` fixture")

    @pytest.fixture
    def topic(self) -> str:
        return f"contract.{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def group(self) -> str:
        return f"contract-{uuid.uuid4().hex[:12]}"

    # -- handling -------------------------------------------------------------

    async def test_events_reach_their_handler_in_order_with_their_delivery_then_commit(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        ids = [await _produce_order(harness, topic, f"o{n}") for n in range(3)]
        seen = _Seen()

        async with _consuming(harness, topic, group, seen) as consumer:
            await until(lambda: len(seen.handled) == 3, "three events")
            await _until_committed(harness, group, topic, 0, 3)

        assert seen.order_ids() == ["o0", "o1", "o2"]
        event, delivery = seen.handled[0]
        assert event.event_id == ids[0]
        assert delivery == Delivery(
            message_id=ids[0],
            event_name=_EVENT_NAME,
            topic=topic,
            partition=0,
            offset=0,
            key="o0",
            headers=delivery.headers,
            session=None,
        )
        assert delivery.headers[MESSAGE_ID_HEADER] == str(ids[0])
        assert [d.offset for _, d in seen.handled] == [0, 1, 2]
        assert consumer.health.healthy
        assert await harness.count(f"{topic}.dlq") == 0

    async def test_partitions_are_handled_at_the_same_time_each_in_order(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 3)
        started = {partition: asyncio.Event() for partition in range(3)}
        seen: list[tuple[int, str]] = []

        async def handle(event: _OrderPlaced) -> None:
            partition = current_delivery().partition
            started[partition].set()
            # The first record of each partition waits for the others' first records:
            # only partitions handled side by side get past this.
            if event.payload.order_id.endswith("-0"):
                everyone = asyncio.gather(*(other.wait() for other in started.values()))
                await asyncio.wait_for(everyone, DEADLINE)
            seen.append((partition, event.payload.order_id))

        for n in range(20):
            for partition in range(3):
                await _produce_order(harness, topic, f"p{partition}-{n}", partition=partition)

        async with _consuming(harness, topic, group, handle):
            await until(lambda: len(seen) == 60, "every record")
            for partition in range(3):
                await _until_committed(harness, group, topic, partition, 20)

        for partition in range(3):
            orders = [order_id for p, order_id in seen if p == partition]
            assert orders == [f"p{partition}-{n}" for n in range(20)]

    async def test_a_failing_try_rolls_back_and_the_next_runs_in_a_new_transaction(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        message_id = await _produce_order(harness, topic, "o1")
        inbox = MemoryInbox()
        sessions: list[object] = []

        async def handle(event: _OrderPlaced) -> None:
            session = current_delivery().session
            sessions.append(session)
            assert isinstance(session, MemoryInboxSession)
            assert session.in_transaction
            if len(sessions) < 3:
                raise ConnectionError(f"try {len(sessions)} failed")

        async with _consuming(
            harness,
            topic,
            group,
            handle,
            transaction=lambda: inbox.session().begin(),
            inbox=inbox,
            retry=_FAST_RETRY,
        ):
            await _until_committed(harness, group, topic, 0, 1)

        assert len(sessions) == 3
        assert len({id(session) for session in sessions}) == 3
        # Only the third try committed its inbox record; the failed ones rolled theirs back.
        assert [record.message_id for record in inbox.records(group)] == [message_id]
        assert await harness.count(f"{topic}.dlq") == 0

    async def test_a_redelivered_message_is_dropped_by_the_inbox(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        inbox = MemoryInbox()
        event = _OrderPlaced(event_name=_EVENT_NAME, topic=topic, payload=_Order(order_id="o1"))
        headers = [
            (MESSAGE_ID_HEADER, str(event.event_id).encode()),
            (EVENT_NAME_HEADER, _EVENT_NAME.encode()),
        ]
        for _ in range(2):
            await harness.produce(topic, payload_json(event.to_dict()), headers=headers)
        await _produce_order(harness, topic, "o2")
        seen = _Seen()

        async with _consuming(
            harness,
            topic,
            group,
            seen,
            transaction=lambda: inbox.session().begin(),
            inbox=inbox,
            consumer_name="billing",
        ):
            await _until_committed(harness, group, topic, 0, 3)

        assert seen.calls == ["o1", "o2"]
        assert inbox.handled("billing", event.event_id)

    # -- failures -------------------------------------------------------------

    async def test_undecodable_records_are_dead_lettered_at_once_and_passed(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        name = _EVENT_NAME.encode()
        bad_records = [
            (b"{not json", "not JSON"),
            (b'{"event_name": "consumer_contract_nobody_knows", "payload": {}}', "no event type"),
            (b'{"event_name": "' + name + b'", "payload": {"id": 1}}', "not a valid"),
            # A valid event, but without an id the inbox could not recognise it again.
            (b'{"event_name": "' + name + b'", "payload": {"order_id": "o"}}', "no message id"),
        ]
        for value, _ in bad_records:
            await harness.produce(topic, value, key=b"raw", headers=[("trace", b"t-1")])
        await _produce_order(harness, topic, "good")
        seen = _Seen()

        async with _consuming(harness, topic, group, seen):
            await until(lambda: bool(seen.handled), "the good record")
            dead = await harness.records(f"{topic}.dlq", len(bad_records))
            await _until_committed(harness, group, topic, 0, len(bad_records) + 1)

        assert seen.order_ids() == ["good"]
        for offset, (record, (value, reason)) in enumerate(zip(dead, bad_records, strict=True)):
            headers = _headers(record)
            assert record.value == value
            assert record.key == b"raw"
            assert headers["trace"] == "t-1"
            assert reason in headers[REASON_HEADER]
            assert headers[ERROR_HEADER] == "cqrs.exceptions.UndecodableRecordError"
            assert headers[ORIGINAL_TOPIC_HEADER] == topic
            assert headers[ORIGINAL_PARTITION_HEADER] == "0"
            assert headers[ORIGINAL_OFFSET_HEADER] == str(offset)
            assert headers[ORIGINAL_KEY_HEADER] == "raw"
            assert headers[VALUE_SIZE_HEADER] == str(len(value))
            assert headers[ATTEMPTS_HEADER] == "0"
            assert OMITTED_HEADER not in headers

    @pytest.mark.parametrize("failure", list(_PERMANENT_FAILURES))
    async def test_a_permanent_failure_is_dead_lettered_on_the_first_try(
        self, harness: ConsumerHarness, topic: str, group: str, failure: str
    ) -> None:
        error, retry = _PERMANENT_FAILURES[failure]
        await harness.create_topic(topic, 1)
        await _produce_order(harness, topic, "bad")
        await _produce_order(harness, topic, "next")
        seen = _Seen({"bad": _raise(error)})

        async with _consuming(harness, topic, group, seen, retry=retry):
            (dead,) = await harness.records(f"{topic}.dlq", 1)
            await _until_committed(harness, group, topic, 0, 2)

        assert seen.calls == ["bad", "next"]  # one try, then on with the next record
        headers = _headers(dead)
        assert headers[ATTEMPTS_HEADER] == "1"
        assert headers[ORIGINAL_OFFSET_HEADER] == "0"
        assert dead.key == b"bad"

    async def test_a_record_whose_handler_keeps_failing_is_dead_lettered_after_its_tries(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        await _produce_order(harness, topic, "doomed")
        await _produce_order(harness, topic, "next")
        seen = _Seen({"doomed": _raise(ValueError("the warehouse rejects doomed"))})

        async with _consuming(harness, topic, group, seen, retry=_FAST_RETRY):
            (dead,) = await harness.records(f"{topic}.dlq", 1)
            await _until_committed(harness, group, topic, 0, 2)

        # Three tries of the doomed record, all before the next record: order holds.
        assert seen.calls == ["doomed", "doomed", "doomed", "next"]
        headers = _headers(dead)
        assert headers[ATTEMPTS_HEADER] == "3"
        assert headers[ERROR_HEADER] == "builtins.ValueError"  # the handler's own error
        assert "the warehouse rejects doomed" in headers[REASON_HEADER]
        assert headers[EVENT_NAME_HEADER] == _EVENT_NAME

    async def test_an_outage_longer_than_the_tries_is_waited_out_not_dead_lettered(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        await _produce_order(harness, topic, "o1")
        outage_tries = 2 * _FAST_RETRY.attempts

        def fail(call: int) -> None:
            if call <= outage_tries:
                raise RuntimeError("the repository failed") from ConnectionError("db down")

        seen = _Seen({"o1": fail})

        async with _consuming(harness, topic, group, seen, retry=_FAST_RETRY):
            await _until_committed(harness, group, topic, 0, 1)

        assert seen.calls == ["o1"] * (outage_tries + 1)
        assert await harness.count(f"{topic}.dlq") == 0

    # -- dead letters that cannot fail on size or spin ------------------------

    async def test_a_record_too_large_for_the_dead_letter_topic_is_dead_lettered_without_value(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        huge = b"x" * (3 * harness.max_dead_letter_size)
        await harness.produce(topic, huge, key=b"huge", headers=[("trace", b"t-1")])
        await _produce_order(harness, topic, "next")
        seen = _Seen()

        async with _consuming(harness, topic, group, seen) as consumer:
            (dead,) = await harness.records(f"{topic}.dlq", 1)
            await _until_committed(harness, group, topic, 0, 2)
            health = consumer.health.report()

        assert seen.order_ids() == ["next"]  # and the consumer carried on
        assert dead.value in (None, b"")
        assert dead.key == b"huge"
        headers = _headers(dead)
        assert headers[OMITTED_HEADER] == "value"
        assert headers[VALUE_SIZE_HEADER] == str(len(huge))
        assert headers[ORIGINAL_TOPIC_HEADER] == topic
        assert headers[ORIGINAL_PARTITION_HEADER] == "0"
        assert headers[ORIGINAL_OFFSET_HEADER] == "0"
        assert headers[ORIGINAL_KEY_HEADER] == "huge"
        assert headers["trace"] == "t-1"
        # One dead letter, published on the first try: nothing spun.
        assert await harness.count(f"{topic}.dlq") == 1
        assert health["dead_letters"] == 1
        assert health["dead_letter_failures"] == 0

    async def test_an_error_message_of_a_megabyte_gives_a_bounded_reason(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        await _produce_order(harness, topic, "loud")
        seen = _Seen({"loud": _raise(_Permanent("sku " + "x" * 1_000_000 + " is unknown"))})

        async with _consuming(harness, topic, group, seen) as consumer:
            (dead,) = await harness.records(f"{topic}.dlq", 1)
            await _until_committed(harness, group, topic, 0, 1)
            failures = consumer.health.dead_letter_failures

        reason = _headers(dead)[REASON_HEADER]
        assert len(reason.encode()) <= MAX_TEXT_BYTES
        assert reason.startswith("_Permanent: sku xxx")  # the permanent error, not a wrapper
        assert reason.endswith("more bytes)")
        assert _headers(dead)[ERROR_HEADER] == f"{__name__}._Permanent"
        assert failures == 0
        assert dead.value is not None
        assert b'"order_id":"loud"' in dead.value  # the record itself is whole

    async def test_a_dead_letter_topic_that_refuses_records_is_retried_with_backoff(
        self,
        harness: ConsumerHarness,
        topic: str,
        group: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.ERROR, logger=_LOGGER)
        await harness.create_topic(topic, 2)
        seen = _Seen({"poison": _raise(_Permanent("no such SKU"))})
        retry = DeadLetterRetry(initial_delay=0.05, multiplier=2.0, max_delay=0.4)
        health = ConsumerHealth(unhealthy_after=1.0)

        async with _consuming(harness, topic, group, seen, dead_letter_retry=retry, health=health):
            async with harness.refusing(f"{topic}.dlq"):
                await _produce_order(harness, topic, "poison", partition=0)
                await _produce_order(harness, topic, "behind", partition=0)
                await _produce_order(harness, topic, "beside", partition=1)
                await until(lambda: "beside" in seen.order_ids(), "the other partition")
                await until(lambda: not health.healthy, "the consumer to turn unhealthy")
                failures = health.dead_letter_failures
                committed_during = await harness.committed(group, topic, 0)
                handled_during = seen.order_ids()
                logged = [r for r in caplog.records if "could not dead-letter" in r.getMessage()]
            (dead,) = await harness.records(f"{topic}.dlq", 1)
            await until(lambda: health.healthy, "the consumer to turn healthy again")
            await _until_committed(harness, group, topic, 0, 2)

        # Tries 0.05, 0.1, 0.2, 0.4, 0.4 ... s apart: a handful in the second it took
        # to turn unhealthy, where a spinning consumer makes thousands.
        assert 2 <= failures <= 12
        assert len(logged) == failures  # once per failed try
        assert committed_during in (None, 0)  # the poison was not passed over
        assert "behind" not in handled_during
        assert seen.order_ids() == ["beside", "behind"]
        assert _headers(dead)[ORIGINAL_OFFSET_HEADER] == "0"
        assert health.report()["troubles"] == []

    # -- partitions and positions ---------------------------------------------

    async def test_a_partition_retrying_a_record_does_not_hold_up_the_others(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 3)
        loop = asyncio.get_running_loop()
        handled: dict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
        outage_over = asyncio.Event()
        stuck_tries = 0

        async def handle(event: _OrderPlaced) -> None:
            nonlocal stuck_tries
            order_id = event.payload.order_id
            if order_id == "stuck" and not outage_over.is_set():
                stuck_tries += 1
                raise ConnectionError("the warehouse is down")  # transient: retried for ever
            handled[order_id].set()

        async def latency(order_id: str, partition: int) -> float:
            produced = loop.time()
            await _produce_order(harness, topic, order_id, partition=partition)
            await asyncio.wait_for(handled[order_id].wait(), DEADLINE)
            return loop.time() - produced

        async with _consuming(harness, topic, group, handle, retry=_FAST_RETRY):
            baseline = [await latency(f"base-{n}", 1 + n % 2) for n in range(10)]
            await _produce_order(harness, topic, "stuck", partition=0)
            await _produce_order(harness, topic, "behind", partition=0)
            await until(lambda: stuck_tries > _FAST_RETRY.attempts, "the stuck record's retries")
            during = [await latency(f"during-{n}", 1 + n % 2) for n in range(10)]
            behind_waited = not handled["behind"].is_set()
            outage_over.set()
            await asyncio.wait_for(handled["behind"].wait(), DEADLINE)
            await _until_committed(harness, group, topic, 0, 2)

        assert behind_waited  # the stuck record's partition keeps its order
        # Generous bounds: a consumer whose partitions wait on each other takes as long
        # as the outage (for ever, here) instead.
        assert statistics.median(during) <= 3 * statistics.median(baseline) + 0.5
        assert max(during) <= 3 * max(baseline) + 1.0

    async def test_positions_never_pass_a_record_that_was_not_settled(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 2)
        for n in range(5):
            await _produce_order(harness, topic, f"a{n}", partition=0)
            await _produce_order(harness, topic, f"b{n}", partition=1)
        blocked = asyncio.Event()
        first_run = _Seen()

        async def handle(event: _OrderPlaced) -> None:
            if event.payload.order_id == "a3":
                blocked.set()
                await asyncio.Event().wait()  # until the consumer is stopped
            await first_run(event)

        async with _consuming(harness, topic, group, handle, stop_timeout=0.1):
            await asyncio.wait_for(blocked.wait(), DEADLINE)
            await _until_committed(harness, group, topic, 1, 5)
            await _until_committed(harness, group, topic, 0, 3)
        # Stopped with a3 in progress: it was cancelled, and nothing passed it.
        assert await harness.committed(group, topic, 0) == 3
        assert "a4" not in first_run.order_ids()

        second_run = _Seen()
        async with _consuming(harness, topic, group, second_run):
            await _until_committed(harness, group, topic, 0, 5)

        assert second_run.order_ids() == ["a3", "a4"]

    async def test_stopping_lets_the_try_in_progress_finish_and_commit(
        self, harness: ConsumerHarness, topic: str, group: str
    ) -> None:
        await harness.create_topic(topic, 1)
        message_id = await _produce_order(harness, topic, "o1")
        inbox = MemoryInbox()
        started, release = asyncio.Event(), asyncio.Event()
        finished: list[str] = []

        async def slow(event: _OrderPlaced) -> None:
            started.set()
            await release.wait()
            finished.append(event.payload.order_id)

        async with contextlib.AsyncExitStack() as stack:
            consumer = await stack.enter_async_context(
                _consuming(
                    harness,
                    topic,
                    group,
                    slow,
                    stop_timeout=DEADLINE,
                    transaction=lambda: inbox.session().begin(),
                    inbox=inbox,
                )
            )
            await asyncio.wait_for(started.wait(), DEADLINE)
            stopping = asyncio.ensure_future(stack.aclose())
            await until(consumer.stopping, "the consumer to begin stopping")
            release.set()
            await asyncio.wait_for(stopping, DEADLINE)

        assert finished == ["o1"]
        assert inbox.handled(group, message_id)
        assert await harness.committed(group, topic, 0) == 1
