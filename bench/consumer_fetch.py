"""How long a record waits before a `subscribe_events` consumer handles it, and what an
idle consumer costs, for a few `fetch_max_wait_ms` settings.

Run with `uv run python bench/consumer_fetch.py [--records 50] [--idle 5]
[--waits 500,100,20,10]`. The Kafka is `KAFKA_BOOTSTRAP_SERVERS` when set, else a
local Tansu broker started for the run.

For each setting a consumer (cqrs.consumer's pipeline through
`cqrs_kafka.consumer.subscribe_events`) joins a new group on a new topic, then:

* idle: for `--idle` seconds nothing is published; the CPU time this process
  (the consumer) and the broker process spend in that time, per second of it;
* latency: `--records` records published one at a time, each after the
  previous was handled; the time from `send_and_wait` returning to the handler
  running, p50 and p99.

It is informational (no target, exits 0). The setting is `subscribe_events`'
default (`KAFKA_FETCH_MAX_WAIT_MS`, 10 ms) at `10`; aiokafka's own default is 500.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import statistics
import time
import typing
import uuid

import aiokafka
import drivers
import pydantic
from faststream.kafka import KafkaBroker

import cqrs
from cqrs.container.di import DIContainer
from cqrs.events import EventHandler, EventMap, EventMediator
from cqrs_kafka.consumer import subscribe_events
from cqrs_kafka.local import LocalKafkaBroker
from cqrs_kafka.topics import ensure_topics

EVENT_NAME = "bench_fetch_ping"
DEADLINE = 30.0  # seconds any one wait may take before the run gives up
TICKS = os.sysconf("SC_CLK_TCK")


class Ping(pydantic.BaseModel):
    sent_at: float


PingEvent = cqrs.NotificationEvent[Ping]


class _Handled:
    """Where the handler reports each record's arrival."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[float] = asyncio.Queue()


HANDLED = _Handled()


class PingHandler(EventHandler[PingEvent]):
    async def handle(self, event: PingEvent) -> None:
        HANDLED.queue.put_nowait(time.perf_counter() - event.payload.sent_at)


def mediator() -> EventMediator:
    events = EventMap()
    events.bind(PingEvent, PingHandler)
    container = DIContainer()
    return EventMediator(events, container)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def broker_pid() -> int | None:
    """The pid of the local broker, a child of this process; None for an external one."""
    me = str(os.getpid())
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                return int(stat.parent.name)
        except (OSError, IndexError):
            continue
    return None


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def measure(servers: str, wait_ms: int, records: int, idle: float) -> dict[str, float]:
    topic = f"bench-fetch-{uuid.uuid4().hex[:8]}"
    await ensure_topics(servers, {topic: 1})
    broker = KafkaBroker(servers, logger=None)
    subscribe_events(
        broker,
        topic,
        group_id=f"g-{topic}",
        mediator=mediator(),
        events={EVENT_NAME: PingEvent},
        fetch_max_wait_ms=wait_ms,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    started = aiokafka.AIOKafkaProducer(bootstrap_servers=servers)
    await started.start()
    producer = drivers.producer(started)
    await broker.start()
    try:

        async def ping() -> float:
            event = PingEvent(
                event_name=EVENT_NAME, topic=topic, payload=Ping(sent_at=time.perf_counter())
            )
            value = event.model_dump_json().encode()
            await (await producer.send(topic, value, headers=[("event_name", EVENT_NAME.encode())]))
            return await asyncio.wait_for(HANDLED.queue.get(), DEADLINE)

        await asyncio.wait_for(ping(), DEADLINE * 2)  # joined and fetching
        pid = broker_pid()
        start_self, start_broker = time.process_time(), cpu_seconds(pid) if pid else 0.0
        await asyncio.sleep(idle)
        idle_self = (time.process_time() - start_self) / idle
        idle_broker = ((cpu_seconds(pid) - start_broker) / idle) if pid else float("nan")
        latencies = [await ping() for _ in range(records)]
    finally:
        await broker.stop()
        await producer.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": quantiles[98] * 1000,
        "idle_consumer": idle_self * 1000,
        "idle_broker": idle_broker * 1000,
    }


async def run(servers: str, waits: list[int], records: int, idle: float) -> None:
    print(f"load average before: {load()}")
    print(
        "| fetch_max_wait_ms | p50 ms | p99 ms | idle CPU, consumer ms/s "
        "| idle CPU, broker ms/s | load |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    for wait_ms in waits:
        figures = await measure(servers, wait_ms, records, idle)
        print(
            f"| {wait_ms} | {figures['p50']:.1f} | {figures['p99']:.1f} "
            f"| {figures['idle_consumer']:.1f} | {figures['idle_broker']:.1f} | {load()} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--waits", default="500,100,20,10")
    args = parser.parse_args()
    waits = [int(wait) for wait in typing.cast(str, args.waits).split(",")]
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        asyncio.run(run(external, waits, args.records, args.idle))
        return
    with LocalKafkaBroker() as local:
        asyncio.run(run(local.bootstrap_servers, waits, args.records, args.idle))


if __name__ == "__main__":
    main()
