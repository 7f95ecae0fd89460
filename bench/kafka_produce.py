"""Publishing to Kafka through cqrs-kafka, against aiokafka used directly.

Run with `uv run python bench/kafka_produce.py [--reps 5] [--n 20000] [--partitions 4]`
(or `make bench`). `--n` defaults to `$BENCH_KAFKA_EVENTS`, else 20 000.

The Kafka is `KAFKA_BOOTSTRAP_SERVERS` when set, else a local Tansu broker
(`cqrs_kafka.local.LocalKafkaBroker`) started for the run and stopped after
it. A fresh topic with `--partitions` partitions takes the records.

* send_batch   `KafkaMessageBroker.send_batch(messages)`, the outbox relay's
               path, against a hand-written loop: `await producer.send(...)`
               per event on an `aiokafka.AIOKafkaProducer` with the same
               settings, then `asyncio.gather` of the returned futures.
               Target: library events/s >= 0.8 x raw events/s.
* send_message `asyncio.gather` of one `send_message` per event, against the
               same raw loop (informational: every event is its own task).
* consume      (informational) `--consume` records read in a new consumer group
               through `cqrs_kafka.consumer.subscribe_events` (cqrs.consumer's
               pipeline: batches fetched, a worker per partition, decoding,
               `EventMediator`, offsets committed in batches), against
               a hand-written aiokafka consumer: `getmany`, `json.loads` and
               `from_dict` into the same event class, the same handler called
               directly, a commit after each `getmany` batch; and against the
               same consumer committing after every record. Timed from the
               first handled event to the last, so joining the group is not.

Both producers publish the same `--n` events (100 keys, an id, a name and a
small JSON payload each; the records are the same bytes) and wait for every
acknowledgement. The events exist before the clock starts; encoding them
(JSON value, headers) is timed on both sides.

Every figure is the median over `--reps` reps (`--consume-reps` for the
consumers, after a warm-up rep); the sides of a case alternate, swapping
order every rep, and the garbage collector is off while a rep is timed. The
script always exits 0: it warns, it does not fail. The last line is
`ratio_broker_over_raw` (send_batch events/s over raw events/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import time
import typing
import uuid
from collections.abc import Generator

import aiokafka
import drivers
import pydantic
from faststream.kafka import KafkaBroker
from harness import Case, Result, measure, print_table

import cqrs
from cqrs.container.di import DIContainer
from cqrs.events import EventMap, EventMediator
from cqrs.message_brokers.protocol import Message
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.consumer import subscribe_events
from cqrs_kafka.local import LocalKafkaBroker
from cqrs_kafka.producer import KafkaProducerAdapter
from cqrs_kafka.topics import ensure_topics

PRODUCE_TARGET = 0.8  # send_batch throughput / raw aiokafka throughput, at least
KEYS = 100
EVENT_NAME = "bench_order_placed"
CONSUME_TIMEOUT = 120.0  # seconds a consumer rep may take before the run gives up
# Both consumers' group settings. Tansu answers a new group's join after half the
# session timeout (5 s with the default 10 s); joining is not timed, but it would
# make most of the run's length.
SESSION_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS = 3000, 1000


class OrderPlaced(pydantic.BaseModel):
    order_id: str
    amount: int


OrderPlacedEvent = cqrs.NotificationEvent[OrderPlaced]


# --- Kafka ----------------------------------------------------------------------


@contextlib.contextmanager
def kafka_server() -> Generator[str, None, None]:
    """Bootstrap servers for a benchmark: `KAFKA_BOOTSTRAP_SERVERS`, else a local broker
    that lives as long as the block."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with LocalKafkaBroker() as broker:
        yield broker.bootstrap_servers


def kafka_description() -> str:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    return f"Kafka at {external}" if external else "local Tansu broker"


async def raw_producer(adapter: KafkaProducerAdapter) -> drivers.Producer:
    """A started aiokafka producer with the settings `adapter` uses."""
    settings = adapter.settings
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=",".join(settings.bootstrap_servers),
        client_id=f"{settings.client_id}-raw",
        acks=settings.acks,
        compression_type=settings.compression_type,
        enable_idempotence=settings.enable_idempotence,
        linger_ms=settings.linger_ms,
    )
    await producer.start()
    return drivers.producer(producer)


async def raw_send_all(producer: drivers.Producer, messages: list[Message]) -> int:
    """The hand-written publisher: encode and send each event, then gather the acks."""
    acks: list[asyncio.Future[object]] = []
    for message in messages:
        value = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = [
            ("message_id", str(message.message_id).encode()),
            ("event_name", message.message_name.encode()),
            ("content-type", b"application/json"),
        ]
        key = None if message.key is None else message.key.encode()
        acks.append(await producer.send(message.topic, value, key=key, headers=headers))
    await asyncio.gather(*acks)
    return len(messages)


# --- events ---------------------------------------------------------------------


def messages_for(topic: str, n: int) -> list[Message]:
    """`n` events over `KEYS` order ids, as the relay hands them to the broker."""
    return [
        Message.from_event(
            OrderPlacedEvent(
                event_name=EVENT_NAME,
                topic=topic,
                payload=OrderPlaced(order_id=f"order-{index % KEYS}", amount=index),
            ),
            key=f"order-{index % KEYS}",
        )
        for index in range(n)
    ]


# --- produce --------------------------------------------------------------------


async def produce_cases(bootstrap: str, n: int, reps: int, partitions: int) -> list[Result]:
    topic = f"bench.produce.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: partitions})
    messages = messages_for(topic, n)
    adapter = KafkaProducerAdapter(bootstrap, topics=[topic])
    producer = await raw_producer(adapter)
    try:
        async with KafkaMessageBroker(adapter) as broker:

            async def raw(count: int) -> int:
                return await raw_send_all(producer, messages[:count])

            async def batched(count: int) -> int:
                outcomes = await broker.send_batch(messages[:count])
                failed = [error for error in outcomes if error is not None]
                if failed:
                    raise RuntimeError(f"send_batch failed {len(failed)} events: {failed[0]}")
                return count

            async def gathered(count: int) -> int:
                await asyncio.gather(*(broker.send_message(m) for m in messages[:count]))
                return count

            cases = [
                Case("produce: send_batch", raw, batched, target=1 / PRODUCE_TARGET),
                Case("produce: gather(send_message) (info)", raw, gathered, target=None),
            ]
            return [await measure(case, n, reps) for case in cases]
    finally:
        await producer.stop()


# --- consume --------------------------------------------------------------------


class Progress:
    """Counts the events handled in one rep, noting when the first and the last came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first_ns = self.last_ns = 0
        self.done = asyncio.Event()

    def tick(self) -> None:
        now = time.perf_counter_ns()
        if not self.count:
            self.first_ns = now
        self.count += 1
        if self.count == self.expected:
            self.last_ns = now
            self.done.set()

    def ns_per_event(self) -> float:
        # From the first event to the last: joining the group and fetching the first
        # records is start-up, not dispatch.
        return (self.last_ns - self.first_ns) / max(1, self.expected - 1)


class CountOrder(cqrs.EventHandler[OrderPlacedEvent]):
    """The handler of both sides; `progress` is the current rep's."""

    progress: typing.ClassVar[Progress]

    async def handle(self, event: OrderPlacedEvent) -> None:
        self.progress.tick()


async def consume_raw(bootstrap: str, topic: str, expected: int, commit_each: bool) -> float:
    """The hand-written consumer: `getmany`, decode each value, call the handler, commit
    after each batch (or, with `commit_each`, after each record). Returns ns per event."""
    progress = CountOrder.progress = Progress(expected)
    consumer = drivers.consumer(
        aiokafka.AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
    )
    await consumer.start()
    deadline = time.monotonic() + CONSUME_TIMEOUT
    try:
        while progress.count < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw consumer got {progress.count} of {expected} events")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = OrderPlacedEvent.from_dict(**json.loads(record.value or b""))
                    await CountOrder().handle(event)
                    if commit_each:
                        await consumer.commit({consumer_tp(record): record.offset + 1})
            if batches and not commit_each:
                await consumer.commit()
    finally:
        await consumer.stop()
    return progress.ns_per_event()


async def consume_with_library(
    bootstrap: str, topic: str, expected: int, mediator: EventMediator
) -> float:
    """`subscribe_events` on a FastStream `KafkaBroker`; returns ns per event."""
    progress = CountOrder.progress = Progress(expected)
    # No access log: the raw consumer logs nothing either.
    broker = KafkaBroker(bootstrap, logger=None)
    subscribe_events(
        broker,
        topic,
        group_id=f"bench-lib-{uuid.uuid4().hex[:8]}",
        mediator=mediator,
        events={EVENT_NAME: OrderPlacedEvent},
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )
    await broker.start()
    try:
        await asyncio.wait_for(progress.done.wait(), CONSUME_TIMEOUT)
    except asyncio.TimeoutError:
        raise TimeoutError(f"subscribe_events got {progress.count} of {expected} events") from None
    finally:
        await broker.stop()
    return progress.ns_per_event()


def consumer_tp(record: aiokafka.ConsumerRecord[bytes, bytes]) -> aiokafka.TopicPartition:
    return aiokafka.TopicPartition(record.topic, record.partition)


async def consume_cases(bootstrap: str, records: int, reps: int, partitions: int) -> list[Result]:
    """Median ns per event of each consumer, each rep in a new group reading the topic
    from the start; the first rep is a warm-up."""
    topic = f"bench.consume.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: partitions})
    async with KafkaMessageBroker(KafkaProducerAdapter(bootstrap, topics=[topic])) as broker:
        outcomes = await broker.send_batch(messages_for(topic, records))
    if any(outcomes):
        raise RuntimeError(f"could not fill {topic}: {next(e for e in outcomes if e)}")
    events = EventMap()
    events.bind(OrderPlacedEvent, CountOrder)
    mediator = EventMediator(events, DIContainer())
    sides: dict[str, typing.Callable[[], typing.Awaitable[float]]] = {
        "raw": lambda: consume_raw(bootstrap, topic, records, commit_each=False),
        "raw, commit each": lambda: consume_raw(bootstrap, topic, records, commit_each=True),
        "library": lambda: consume_with_library(bootstrap, topic, records, mediator),
    }
    samples: dict[str, list[float]] = {side: [] for side in sides}
    order = list(sides)
    for rep in range(reps + 1):
        for side in order:
            gc.collect()
            gc.disable()
            try:
                ns = await sides[side]()
            finally:
                gc.enable()
            if rep:
                samples[side].append(ns)
        order.reverse()
    median = {side: statistics.median(values) for side, values in samples.items()}
    return [
        Result(Case(name, untimed, untimed, target=None), median[raw], median["library"])
        for name, raw in [
            ("consume: subscribe_events (info)", "raw"),
            ("consume: vs raw committing each record (info)", "raw, commit each"),
        ]
    ]


async def untimed(n: int) -> int:
    """The runner of a case timed outside `harness.measure` (a `Case` needs two)."""
    return n


async def run_all(args: argparse.Namespace, bootstrap: str) -> list[Result]:
    produced = await produce_cases(bootstrap, args.n, args.reps, args.partitions)
    consumed = await consume_cases(bootstrap, args.consume, args.consume_reps, args.partitions)
    return [*produced, *consumed]


# --- report ---------------------------------------------------------------------


def events_per_second(ns_per_event: float) -> str:
    return f"{1e9 / ns_per_event:,.0f} events/s"


def print_report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"cqrs Kafka benchmark: aiokafka {aiokafka.__version__}, {kafka_description()}, "
        f"{args.partitions} partitions, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; produce: median of {args.reps} reps x {args.n} events, "
        f"consume: median of {args.consume_reps} reps x {args.consume} records"
    )
    print("(µs per event; 'direct' = raw aiokafka, 'mediator' = cqrs-kafka;")
    print(" ratio = library time / raw time)")
    print()
    print_table(results)
    print()
    for result in results:
        print(
            f"{result.case.name}: library {events_per_second(result.mediator_ns)}, "
            f"raw {events_per_second(result.direct_ns)}, "
            f"library / raw throughput {1 / result.ratio:.2f}"
        )
    batched = results[0]
    throughput = 1 / batched.ratio
    if throughput < PRODUCE_TARGET:
        print(
            f"WARNING: send_batch publishes at {throughput:.0%} of raw aiokafka "
            f"(target {PRODUCE_TARGET:.0%})"
        )
    print(f"ratio_broker_over_raw={throughput:.3f}")


# --- main -----------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="reps per side (default 5)")
    parser.add_argument(
        "--n",
        type=int,
        default=int(os.environ.get("BENCH_KAFKA_EVENTS", "20000")),
        help="events per rep (default $BENCH_KAFKA_EVENTS, else 20000)",
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions of the topics (default 4)"
    )
    parser.add_argument(
        "--consume", type=int, default=3000, help="records per consumer rep (default 3000)"
    )
    parser.add_argument("--consume-reps", type=int, default=3, help="reps per consumer (default 3)")
    args = parser.parse_args()
    numbers = (args.reps, args.n, args.partitions, args.consume, args.consume_reps)
    if min(numbers) < 1:
        parser.error("--reps, --n, --partitions, --consume and --consume-reps must be >= 1")
    return args


def main() -> None:
    args = parse_args()
    with kafka_server() as bootstrap:
        results = asyncio.run(run_all(args, bootstrap))
    print_report(results, args)


if __name__ == "__main__":
    main()
