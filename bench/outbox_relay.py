"""The SQL outbox on PostgreSQL: relay throughput, write cost and idle polls, against raw asyncpg.

Run with `uv run python bench/outbox_relay.py [--reps 5] [--rows 10000]` (or `make bench`).

The script creates a throwaway database on the PostgreSQL server named by
`BENCH_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`;
only used to create and drop the throwaway one) and drops it at the end. The
Kafka relay publishes to `KAFKA_BOOTSTRAP_SERVERS` when set, else to a local
Tansu broker started for the run (see bench/kafka_produce.py).

* relay   drain pending rows (100 partition keys) to an in-memory sink:
          `OutboxRelay(SqlAlchemyOutboxStore(engine, schema), sink).run_once()`
          until it finds nothing, against a hand-written asyncpg relay
          (`SELECT ... FOR UPDATE SKIP LOCKED LIMIT 100`, hand each row to the
          sink, `UPDATE ... WHERE id = ANY($1)`, commit). Both take batches of
          100 on one connection. The sink takes a batch at a time
          (`send_batch`), as the library's own brokers do. The library's
          marks commit without waiting for the WAL flush (its default; the
          raw loop's commits wait), so two more drains are shown for
          information: with `synchronous_marks=True`, and to a sink with
          `send_message` only, which the relay publishes per key
          concurrently. Target: library rows/s >= 0.75 x raw rows/s.
* kafka   the same drain to a fresh 4-partition Kafka topic: the relay with a
          `KafkaMessageBroker` (which takes each batch through `send_batch`),
          against the hand-written relay sending each row of a batch with
          aiokafka (`await producer.send(...)`, the stored body as the value)
          and gathering the acknowledgements before its `UPDATE`. Same target.
* write   commit 1 (then 10) events per transaction through
          `SqlAlchemyOutboxedEventRepository` (`async with outbox as session`,
          `outbox.add`, `outbox.commit`) against asyncpg inserting the same
          rows in a transaction on a connection it keeps (a pooled one would
          pay a reset round trip per transaction that the library does not).
          The same through the driver path, `AsyncpgOutbox.add` (`add_all` for
          10) on an asyncpg connection of its own inside `connection.transaction()`,
          against the same raw loop. Target, both paths: library >= 0.9 x raw
          throughput (issue 19 sets it for the driver path). Also printed: each side's
          process CPU time per transaction, which the WAL flush every commit
          waits for (slow and erratic on a busy machine) does not blur.
* poll    one `run_once()` that finds nothing due, on a table keeping 500 000
          published rows against an empty table. Target: <= 1.5 x.

Every figure is the median over `--reps` reps of `--rows` rows per relay
side (`--writes` transactions per write side), each rep timed in five
slices in which the sides take turns, swapping order every slice: this
machine's speed drifts over seconds, and taking turns often lets both sides
see the same machine (and, for writes, the same disk: every commit waits
for a WAL flush). The garbage collector is off while a slice is timed.
The script always exits 0: it warns, it does not fail. The last line is
`ratio_relay_over_raw` (library relay rows/s over raw rows/s, to the
in-memory sink); the line before it, `ratio_kafka_relay_over_raw`, is the
same ratio for the relay to Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import statistics
import time
import typing
import uuid
from collections.abc import Awaitable, Callable

import aiokafka
import drivers
import pydantic
import sqlalchemy as sa
from harness import Case, Result, measure, print_table
from kafka_produce import kafka_description, kafka_server, raw_producer, untimed
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import cqrs
import cqrs_sqla
from cqrs.outbox.relay import OutboxRelay
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import KafkaProducerAdapter
from cqrs_kafka.topics import ensure_topics
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.pg_outbox import AsyncpgOutbox
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, TableNames, create_all

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RELAY_TARGET = 0.75  # library relay throughput / raw relay throughput, at least
WRITE_TARGET = 0.9  # library write throughput / raw write throughput, at least
POLL_TARGET = 1.5  # idle poll time with 500k published rows / on an empty table, at most
BATCH = 100
KEYS = 100
KEPT_ROWS = 500_000
POLLS = 200  # idle polls per rep
SLICES = 5  # a relay or write rep is timed in this many slices, the sides taking turns
SINK_TOPIC = "orders"  # the topic of the rows that go to the in-memory sink
KAFKA_PARTITIONS = 4


class OrderPlaced(pydantic.BaseModel):
    order_id: str
    amount: int


EVENT_NAME = "bench_order_placed"
cqrs.OutboxedEventMap.register(EVENT_NAME, cqrs.NotificationEvent[OrderPlaced])


class MessageSink:
    """A broker that takes one message per call and counts them (no `send_batch`)."""

    def __init__(self) -> None:
        self.count = 0

    async def send_message(self, message: object) -> None:
        self.count += 1


class Sink(MessageSink):
    """The broker of the benchmark: counts what it is handed, a message or a batch at a
    time, as the library's own brokers take them (`BatchMessageBroker`)."""

    async def send_batch(self, messages: typing.Sequence[object]) -> list[None]:
        self.count += len(messages)
        return [None] * len(messages)


# --- database -------------------------------------------------------------------


def urls(admin: str, database: str) -> tuple[str, str]:
    """The asyncpg and the SQLAlchemy URL of `database` on `admin`'s server."""
    url = sa.make_url(admin).set(drivername="postgresql", database=database)
    raw = url.render_as_string(hide_password=False)
    return raw, url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


async def admin_execute(admin: str, statement: str) -> None:
    raw, _ = urls(admin, sa.make_url(admin).database or "postgres")
    connection = await drivers.connect(raw)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def schema_named(name: str) -> Schema:
    return Schema(TableNames(outbox=name, inbox=f"{name}_inbox", saga=f"{name}_saga",
                             saga_log=f"{name}_saga_log", audit=f"{name}_audit"))  # fmt: skip


async def fill(
    connection: drivers.Connection, table: str, rows: int, status: str, topic: str = SINK_TOPIC
) -> None:
    """Empty `table`, then write `rows` rows for `topic` in `status` with one INSERT ... SELECT."""
    await connection.execute(f"TRUNCATE {table}")
    await connection.execute(
        f"""
        INSERT INTO {table} (event_id, event_name, topic, partition_key, payload, status,
                             attempts, created_at, next_attempt_at, published_at)
        SELECT id, '{EVENT_NAME}', '{topic}', 'order-' || (g % {KEYS}),
               convert_to(json_build_object(
                   'event_id', id, 'event_name', '{EVENT_NAME}', 'topic', '{topic}',
                   'event_timestamp', now(),
                   'payload', json_build_object('order_id', 'order-' || (g % {KEYS}),
                                                'amount', g))::text, 'UTF8'),
               $1::text, 0, now(), now(), CASE WHEN $1::text = 'published' THEN now() END
        FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, $2) AS g) AS source
        """,
        status,
        rows,
    )
    await connection.execute(f"ANALYZE {table}")


# --- relay ----------------------------------------------------------------------

# Publishes one claimed batch of raw rows (topic, key, event id, name, stored body).
RawPublish = Callable[[list[drivers.Row]], Awaitable[None]]
# Drains a table; returns how many rows it published.
Drain = Callable[[], Awaitable[int]]


async def raw_relay(connection: drivers.Connection, table: str, publish: RawPublish) -> int:
    """The hand-written relay: claim with SKIP LOCKED, publish, mark, commit; until empty."""
    select = f"""
        SELECT id, event_id, event_name, topic, partition_key, payload FROM {table}
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
    """
    update = f"""
        UPDATE {table} SET status = 'published', attempts = attempts + 1, published_at = now()
        WHERE id = ANY($1)
    """
    total = 0
    while True:
        async with connection.transaction():
            rows = await connection.fetch(select, BATCH)
            if not rows:
                return total
            await publish(rows)
            await connection.execute(update, [row["id"] for row in rows])
        total += len(rows)


def raw_to_sink(sink: Sink) -> RawPublish:
    async def publish(rows: list[drivers.Row]) -> None:
        for row in rows:
            await sink.send_message(
                (row["topic"], row["partition_key"], row["event_id"], row["payload"])
            )

    return publish


def raw_to_kafka(producer: drivers.Producer) -> RawPublish:
    """Send every row of the batch (its stored body as the value, as-is), then wait for all."""

    async def publish(rows: list[drivers.Row]) -> None:
        acks: list[asyncio.Future[object]] = []
        for row in rows:
            headers = [
                ("message_id", str(row["event_id"]).encode()),
                ("event_name", row["event_name"].encode()),
                ("content-type", b"application/json"),
            ]
            key = row["partition_key"].encode()
            acks.append(await producer.send(row["topic"], row["payload"], key=key, headers=headers))
        await asyncio.gather(*acks)

    return publish


def drain(relay: OutboxRelay) -> Drain:
    async def run() -> int:
        total = 0
        while published := await relay.run_once():
            total += published
        return total

    return run


async def compare_drains(
    connection: drivers.Connection,
    sides: dict[str, tuple[str, Drain]],
    rows: int,
    reps: int,
    topic: str,
) -> dict[str, float]:
    """Median ns per row of each side (name -> its table and drain) over `reps` reps.

    A rep is `SLICES` drains per side, taking turns, each of `rows / SLICES` pending
    rows for `topic` written just before it: taking turns often, both sides see the
    same machine (this one's speed drifts over seconds). The first round is a warm-up.
    """
    rows = max(1, rows // SLICES)
    samples: dict[str, list[float]] = {side: [] for side in sides}
    order = list(sides)
    for rep in range(reps * SLICES + 1):
        for side in order:
            table, run = sides[side]
            await fill(connection, table, rows, "pending", topic)
            elapsed, published = await timed(run)
            if published != rows:
                raise RuntimeError(f"{side} relay published {published} of {rows} rows")
            if rep:
                samples[side].append(elapsed / published)
        order.reverse()
    return {side: statistics.median(values) for side, values in samples.items()}


def relay_result(name: str, ns: dict[str, float], side: str = "library") -> Result:
    target = 1 / RELAY_TARGET if side == "library" else None
    return Result(Case(name, untimed, untimed, target=target), ns["raw"], ns[side])


async def relay_case(raw_url: str, engine: AsyncEngine, rows: int, reps: int) -> list[Result]:
    """The relay to an in-memory sink, which takes whole batches, and (for information)
    the same with marks that wait for the WAL flush, and to a sink that takes a message
    per call: median ns per row of each side."""
    names = ("raw", "lib", "lib_synchronous", "lib_per_message")
    schemas = {name: schema_named(f"bench_relay_{name}") for name in names}
    for schema in schemas.values():
        await create_all(engine, schema)
    connection = await drivers.connect(raw_url)
    sink = Sink()

    def relay(name: str, broker: MessageSink, *, synchronous_marks: bool = False) -> Drain:
        store = SqlAlchemyOutboxStore(engine, schemas[name], synchronous_marks=synchronous_marks)
        return drain(OutboxRelay(store, broker, batch_size=BATCH))

    async def raw() -> int:
        return await raw_relay(connection, schemas["raw"].outbox.name, raw_to_sink(sink))

    sides = {
        "raw": (schemas["raw"].outbox.name, raw),
        "library": (schemas["lib"].outbox.name, relay("lib", sink)),
        "synchronous": (
            schemas["lib_synchronous"].outbox.name,
            relay("lib_synchronous", sink, synchronous_marks=True),
        ),
        "per_message": (
            schemas["lib_per_message"].outbox.name,
            relay("lib_per_message", MessageSink()),
        ),
    }
    try:
        ns = await compare_drains(connection, sides, rows, reps, SINK_TOPIC)
    finally:
        await connection.close()
    return [
        relay_result("relay to a sink (per row)", ns),
        relay_result("  same, synchronous_marks=True (info)", ns, "synchronous"),
        relay_result("  same, sink without send_batch (info)", ns, "per_message"),
    ]


async def kafka_relay_case(
    raw_url: str, engine: AsyncEngine, bootstrap: str, rows: int, reps: int
) -> Result:
    """The relay to Kafka (a fresh topic of `KAFKA_PARTITIONS` partitions): median ns per row
    of `KafkaMessageBroker` under `OutboxRelay` and of asyncpg + aiokafka by hand."""
    raw_schema, lib_schema = schema_named("bench_kafka_raw"), schema_named("bench_kafka_lib")
    for schema in (raw_schema, lib_schema):
        await create_all(engine, schema)
    topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, {topic: KAFKA_PARTITIONS})
    adapter = KafkaProducerAdapter(bootstrap, topics=[topic])
    producer = await raw_producer(adapter)
    connection = await drivers.connect(raw_url)
    try:
        async with KafkaMessageBroker(adapter) as broker:
            relay = OutboxRelay(SqlAlchemyOutboxStore(engine, lib_schema), broker, batch_size=BATCH)

            async def raw() -> int:
                return await raw_relay(connection, raw_schema.outbox.name, raw_to_kafka(producer))

            sides = {
                "raw": (raw_schema.outbox.name, raw),
                "library": (lib_schema.outbox.name, drain(relay)),
            }
            ns = await compare_drains(connection, sides, rows, reps, topic)
    finally:
        await connection.close()
        await producer.stop()
    return relay_result("relay to Kafka (per row)", ns)


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    """Run once with the GC off; return the nanoseconds it took and what it returned."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        units = await run()
        return time.perf_counter_ns() - start, units
    finally:
        gc.enable()


# --- writes ---------------------------------------------------------------------


class CpuMeter:
    """A write side that also counts the process CPU time it takes per transaction.

    Every write commit waits for a WAL flush, which the other work on a shared machine
    stretches from under a millisecond to several: the wall-clock ratio then says more
    about the disk than about either side. The library's own cost is CPU, which this
    counts over every run of the side (its warm-up too, as for the other side).
    """

    def __init__(self, run: Callable[[int], Awaitable[int]]) -> None:
        self._run = run
        self._ns = 0
        self._units = 0

    async def __call__(self, n: int) -> int:
        start = time.process_time_ns()
        units = await self._run(n)
        self._ns += time.process_time_ns() - start
        self._units += units
        return units

    @property
    def us_per_unit(self) -> float:
        return self._ns / self._units / 1e3


def event(index: int) -> cqrs.NotificationEvent[OrderPlaced]:
    return cqrs.NotificationEvent[OrderPlaced](
        event_name=EVENT_NAME,
        topic="orders",
        payload=OrderPlaced(order_id=f"order-{index % KEYS}", amount=index),
    )


async def write_cases(
    raw_url: str, engine: AsyncEngine, n: int, reps: int
) -> tuple[list[Result], dict[str, tuple[float, float]]]:
    """The write cases' results (the session path's two with a target, the driver
    path's two with a target, then the information rows), and the CPU µs per
    transaction (raw, library) of the four with a target."""
    raw_schema, lib_schema = schema_named("bench_write_raw"), schema_named("bench_write_lib")
    driver_schema = schema_named("bench_write_driver")
    for schema in (raw_schema, lib_schema, driver_schema):
        await create_all(engine, schema)
    outbox = SqlAlchemyOutboxedEventRepository(
        async_sessionmaker(engine, expire_on_commit=False), schema=lib_schema
    )
    # The raw loop keeps one connection, as a hand-written writer would: taking it from
    # a pool for each transaction adds a reset round trip the library does not pay.
    raw = await drivers.connect(raw_url)
    # The driver path writes on the application's own connection, kept likewise.
    driver = await drivers.connect(raw_url)
    driver_outbox = AsyncpgOutbox(schema=driver_schema)
    insert = f"""
        INSERT INTO {raw_schema.outbox.name} (event_id, event_name, topic, partition_key,
            payload, status, attempts, created_at, next_attempt_at)
        VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
    """
    notify = f"SELECT pg_notify('{raw_schema.outbox.name}_new', '')"
    # The library's form: the insert and the relays' wake-up call in one statement.
    insert_notifying = f"WITH inserted AS ({insert}) {notify}"

    def raw_writer(
        per_tx: int, notifying: typing.Literal["no", "apart", "together"] = "no"
    ) -> Callable[[int], Awaitable[int]]:
        async def run(n: int) -> int:
            for tx in range(n):
                now = datetime.datetime.now(datetime.timezone.utc)
                rows: list[tuple[object, ...]] = []
                for index in range(tx * per_tx, (tx + 1) * per_tx):
                    e = event(index)
                    body = json.dumps(e.to_dict(), separators=(",", ":"), ensure_ascii=False)
                    rows.append(
                        (e.event_id, e.event_name, e.topic, e.payload.order_id, body.encode(), now)
                    )
                async with raw.transaction():
                    if notifying == "together":
                        await raw.execute(insert_notifying, *rows[0])
                    elif per_tx == 1:
                        await raw.execute(insert, *rows[0])
                    else:
                        await raw.executemany(insert, rows)
                    if notifying == "apart":
                        await raw.execute(notify)
            return n

        return run

    def library_writer(per_tx: int) -> Callable[[int], Awaitable[int]]:
        async def run(n: int) -> int:
            for tx in range(n):
                async with outbox as session:
                    for index in range(tx * per_tx, (tx + 1) * per_tx):
                        e = event(index)
                        outbox.add(session, e, key=e.payload.order_id)
                    await outbox.commit(session)
            return n

        return run

    def driver_writer(per_tx: int) -> Callable[[int], Awaitable[int]]:
        """`AsyncpgOutbox` on the application's asyncpg connection, in its transaction."""

        async def run(n: int) -> int:
            for tx in range(n):
                async with driver.transaction():
                    if per_tx == 1:
                        e = event(tx)
                        await driver_outbox.add(driver, e, key=e.payload.order_id)
                    else:
                        events = [event(index) for index in range(tx * per_tx, (tx + 1) * per_tx)]
                        keys = [e.payload.order_id for e in events]
                        await driver_outbox.add_all(driver, events, keys=keys)
            return n

        return run

    target = 1 / WRITE_TARGET
    raw1, lib1, raw10, lib10 = (
        CpuMeter(raw_writer(1)),
        CpuMeter(library_writer(1)),
        CpuMeter(raw_writer(10)),
        CpuMeter(library_writer(10)),
    )
    raw1_d, drv1, raw10_d, drv10 = (
        CpuMeter(raw_writer(1)),
        CpuMeter(driver_writer(1)),
        CpuMeter(raw_writer(10)),
        CpuMeter(driver_writer(10)),
    )
    cases = [
        Case("write 1 event/tx", raw1, lib1, target),
        Case("write 10 events/tx", raw10, lib10, target),
        Case("write 1 event/tx, driver path (AsyncpgOutbox)", raw1_d, drv1, target),
        Case("write 10 events/tx, driver path (AsyncpgOutbox)", raw10_d, drv10, target),
        Case(
            "write 1 event/tx, raw + NOTIFY (info)", raw_writer(1, "apart"), library_writer(1), None
        ),
        Case(
            "write 1 event/tx, raw INSERT+NOTIFY in one statement (info)",
            raw_writer(1, "together"),
            library_writer(1),
            None,
        ),
    ]
    try:
        slice_size = max(1, n // SLICES)
        results = [await measure(case, slice_size, reps * SLICES) for case in cases]
    finally:
        await raw.close()
        await driver.close()
    cpu = {
        "1 event/tx": (raw1.us_per_unit, lib1.us_per_unit),
        "10 events/tx": (raw10.us_per_unit, lib10.us_per_unit),
        "1 event/tx, driver path": (raw1_d.us_per_unit, drv1.us_per_unit),
        "10 events/tx, driver path": (raw10_d.us_per_unit, drv10.us_per_unit),
    }
    return results, cpu


# --- idle polls -----------------------------------------------------------------


async def poll_case(raw_url: str, engine: AsyncEngine, reps: int) -> Result:
    empty_schema, kept_schema = schema_named("bench_poll_empty"), schema_named("bench_poll_kept")
    for schema in (empty_schema, kept_schema):
        await create_all(engine, schema)
    connection = await drivers.connect(raw_url)
    try:
        await fill(connection, empty_schema.outbox.name, 0, "published")
        await fill(connection, kept_schema.outbox.name, KEPT_ROWS, "published")
        await connection.execute(f"VACUUM ANALYZE {kept_schema.outbox.name}")
    finally:
        await connection.close()

    def idle_polls(schema: Schema) -> Callable[[int], Awaitable[int]]:
        relay = OutboxRelay(SqlAlchemyOutboxStore(engine, schema), Sink(), batch_size=BATCH)

        async def run(n: int) -> int:
            for _ in range(n):
                if await relay.run_once():
                    raise RuntimeError("an idle poll published something")
            return n

        return run

    case = Case(
        f"idle poll, {KEPT_ROWS // 1000}k published rows kept vs empty",
        idle_polls(empty_schema),
        idle_polls(kept_schema),
        target=POLL_TARGET,
    )
    return await measure(case, POLLS, reps)


# --- report ---------------------------------------------------------------------


async def run_all(
    admin: str, bootstrap: str, rows: int, writes: int, reps: int
) -> dict[str, typing.Any]:
    database = f"bench_outbox_{uuid.uuid4().hex[:12]}"
    await admin_execute(admin, f'CREATE DATABASE "{database}"')
    raw_url, sqla_url = urls(admin, database)
    engine = create_async_engine(sqla_url)
    try:
        async with engine.connect() as connection:
            version = (await connection.execute(sa.text("SHOW server_version"))).scalar_one()
        relay, synchronous, per_message = await relay_case(raw_url, engine, rows, reps)
        kafka_relay = await kafka_relay_case(raw_url, engine, bootstrap, rows, reps)
        written, write_cpu = await write_cases(raw_url, engine, writes, reps)
        poll = await poll_case(raw_url, engine, reps)
    finally:
        await engine.dispose()
        await admin_execute(admin, f'DROP DATABASE "{database}" WITH (FORCE)')
    return {
        "version": version,
        "relay": relay,
        "synchronous": synchronous,
        "per_message": per_message,
        "kafka_relay": kafka_relay,
        "writes": written,
        "write_cpu": write_cpu,
        "poll": poll,
    }


def rows_per_second(result: Result) -> str:
    return (
        f"library {1e9 / result.mediator_ns:,.0f} rows/s, raw {1e9 / result.direct_ns:,.0f} rows/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="reps per side (default 5)")
    parser.add_argument(
        "--rows", type=int, default=10_000, help="rows per relay rep and side (10000)"
    )
    parser.add_argument("--writes", type=int, default=300, help="transactions per write rep (300)")
    args = parser.parse_args()
    if args.reps < 1 or args.rows < 1 or args.writes < 1:
        parser.error("--reps, --rows and --writes must be at least 1")
    admin = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    with kafka_server() as bootstrap:
        figures = asyncio.run(run_all(admin, bootstrap, args.rows, args.writes, args.reps))
    relay: Result = figures["relay"]
    synchronous: Result = figures["synchronous"]
    per_message: Result = figures["per_message"]
    kafka_relay: Result = figures["kafka_relay"]
    writes: list[Result] = figures["writes"]
    write_cpu: dict[str, tuple[float, float]] = figures["write_cpu"]
    poll: Result = figures["poll"]

    print(
        f"cqrs outbox benchmark: cqrs-core {cqrs.__version__}, cqrs-sqla {cqrs_sqla.__version__}, "
        f"PostgreSQL {figures['version']}, aiokafka {aiokafka.__version__} on a "
        f"{kafka_description()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, median of {args.reps} reps"
    )
    print("(µs per row, transaction or poll; 'direct' = raw asyncpg (+ raw aiokafka for Kafka),")
    print(" or the empty table for the poll; ratio = library time / direct time)")
    print()
    print_table([relay, synchronous, per_message, kafka_relay, *writes, poll])
    print()
    print(f"relay to an in-memory sink: {rows_per_second(relay)}")
    print(f"relay to Kafka ({KAFKA_PARTITIONS} partitions): {rows_per_second(kafka_relay)}")
    for name, (raw_us, library_us) in write_cpu.items():
        print(
            f"write {name}, process CPU per transaction: raw {raw_us:,.0f} µs, "
            f"library {library_us:,.0f} µs ({raw_us / library_us:.2f} of raw's throughput)"
        )
    write_ratios = [1 / result.ratio for result in writes[:4]]
    relay_ratio, kafka_ratio = 1 / relay.ratio, 1 / kafka_relay.ratio
    for name, ratio, target in [
        ("library relay throughput (sink)", relay_ratio, RELAY_TARGET),
        ("library relay throughput (Kafka)", kafka_ratio, RELAY_TARGET),
        ("library write throughput (1/tx)", write_ratios[0], WRITE_TARGET),
        ("library write throughput (10/tx)", write_ratios[1], WRITE_TARGET),
        ("driver-path write throughput (1/tx)", write_ratios[2], WRITE_TARGET),
        ("driver-path write throughput (10/tx)", write_ratios[3], WRITE_TARGET),
    ]:
        if ratio < target:
            print(f"WARNING: {name} is {ratio:.0%} of raw (target {target:.0%})")
    if poll.ratio > POLL_TARGET:
        print(f"WARNING: idle polls take {poll.ratio:.2f}x with rows kept (target {POLL_TARGET}x)")
    print("(ratio_kafka_relay_over_raw: relay to Kafka; ratio_relay_over_raw, the headline:")
    print(" relay to the in-memory sink)")
    print(f"ratio_write1_over_raw={write_ratios[0]:.3f}")
    print(f"ratio_write10_over_raw={write_ratios[1]:.3f}")
    print(f"ratio_write1_driver_over_raw={write_ratios[2]:.3f}")
    print(f"ratio_write10_driver_over_raw={write_ratios[3]:.3f}")
    print(f"ratio_poll_kept_over_empty={poll.ratio:.3f}")
    print(f"ratio_kafka_relay_over_raw={kafka_ratio:.3f}")
    print(f"ratio_relay_over_raw={relay_ratio:.3f}")


if __name__ == "__main__":
    main()
