"""The whole reference system: orders per second, latency from POST to the final status,
where the time goes, and the CPU each process spends per order.

Run with `uv run python bench/e2e.py [--orders 200] [--concurrency 20]
[--database sqlite|postgresql]`.

It starts the system the way `cqrs-demo` does (`cqrs_demo.ReferenceSystem`:
inventory and orders, each a server and an outbox relay, as processes) on a
local Kafka-protocol broker started for the run. The databases are SQLite
files in a temporary folder, or with `--database postgresql` two databases
created for the run on the server `BENCH_POSTGRES_URL` names (default
`postgresql://postgres@127.0.0.1:5432/postgres`) and dropped after it;
`ORDERS_DATABASE_URL` / `INVENTORY_DATABASE_URL` name others (empty ones).

One SKU is restocked with enough units for every order. After a few
untimed warm-up orders, `--orders` orders of one unit each are placed by
`--concurrency` workers. A worker POSTs an order, then reads the order's
event stream (`GET /orders/{id}/events`, Server-Sent Events) until its
`status` event, the saga's end, and places its next order: the benchmark
learns of the end when the system pushes it, and puts no polling load on
what it measures. Latency is from sending the POST to reading that event;
throughput is the orders finished over the wall time of the timed run.

The client shares the cores it measures, so it is kept light: the workers
speak HTTP/1.1 through `bench/http_client.py` (asyncio streams, a few
parsing steps) on uvloop, not through httpx. Each worker keeps one
connection alive for its POSTs and opens one per event stream, closed after
the `status` event (as the httpx client did: one new connection per order).

The path of each order, from the rows' own timestamps, read from both
databases after the run (the `cqrs_sqla` tables): the POST until the saga
row is committed; the saga's first pass until the `reserve_stock` row is in
the orders outbox; the orders relay until it marked the row published
(after Kafka acknowledged it); Kafka and the inventory consumer until the
inbox row (stamped in the handler's transaction, so it can precede the
published mark); inventory's handling until its reply row; its relay; Kafka,
the orders consumer and the saga until the saga's next log entry; the rest
of the saga until its row was last updated; and the event stream until the
client read the `status` event. Each hop's median and p99 are printed.

CPU per order: the user and system CPU time each process (and its
children) spent during the timed run, from `/proc`, over the orders: the four
service processes, the broker, the PostgreSQL server (all its processes)
and this client.

Database work per order (PostgreSQL): transactions (committed and rolled
back) and connections opened, per database, from `pg_stat_database` over the
timed run, less what the idle system does in as long (measured right after).
Backends report their counters within 10 s of going idle, so the script
waits 11 s before each reading. With `--statement-log PATH` (the server's
log file, readable by this user) the run's databases also log every
statement (`log_statement = all`, set on the throwaway databases only) and
the statements of each database are counted in PATH over the same windows:
each is one round trip to the server (a statement's first preparation on a
connection adds one more, not counted). Without it the statements column
says `n/a`.

The processes' output goes to `system.log` in a temporary folder (printed
first), removed after a run whose orders were all confirmed. The script
exits 0 unless the system does not start; orders not confirmed print a
`WARNING:` line. The last three lines are for scripts:

```
orders_per_second=...
latency_p50_ms=...
latency_p99_ms=...
```
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import collections.abc
import contextlib
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import typing
import urllib.parse
import uuid

import sqlalchemy as sa
from http_client import Connection, EventParser, HttpError
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs_demo import ReferenceSystem, Supervisor, SystemConfig, restock_new_skus
from cqrs_demo.system import PROCESSES
from cqrs_kafka.local import LocalKafkaBroker, free_ports
from cqrs_sqla.schema import Schema
from servicekit import runtime

SKU = "bench-tea"
WARMUP_ORDERS = 10
ORDER_TIMEOUT = 120.0  # seconds from sending the GET of the event stream to its `status`
REQUEST_TIMEOUT = 30.0  # seconds for a POST's whole exchange
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Outcome:
    order_id: str | None
    status: str
    posted_at: float  # wall clock (time.time()) when the POST was sent
    latency: float  # seconds from the POST to reading the `status` event


async def final_status(stream: Connection, target: str) -> str:
    """Read the order's event stream until its `status` event; the order status it gives."""
    parser = EventParser()

    def status(chunk: bytes) -> str | None:
        for event in parser.feed(chunk):
            if event.name == "status":
                return str(json.loads(event.data)["order_status"])
        return None

    found = await stream.read_until("GET", target, status)
    return "stream ended" if found is None else found


async def place_and_wait(orders: Connection) -> Outcome:
    """One order, from its POST to its final status; a failed request ends it too. The
    POST goes on the worker's keep-alive connection, the event stream on one of its own
    (closed after the `status` event)."""
    body = {"customer_id": "bench", "items": [{"sku": SKU, "quantity": 1, "unit_price": "1.00"}]}
    posted_at, started = time.time(), time.perf_counter()
    order_id: str | None = None
    try:
        response = await orders.request("POST", "/orders", json_body=body)
        order_id = str(response.json()["order_id"])
        stream = Connection(orders.host, orders.port, timeout=ORDER_TIMEOUT)
        status = await final_status(stream, f"/orders/{order_id}/events")
    except HttpError as error:
        status = type(error).__name__
    return Outcome(order_id, status, posted_at, time.perf_counter() - started)


async def run_orders(orders_url: str, count: int, concurrency: int) -> tuple[list[Outcome], float]:
    """Place `count` orders with `concurrency` workers; the outcomes and the wall time."""
    remaining = iter(range(count))
    outcomes: list[Outcome] = []
    address = urllib.parse.urlsplit(orders_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80

    async def worker() -> None:
        orders = Connection(host, port, timeout=REQUEST_TIMEOUT)
        try:
            for _ in remaining:
                outcomes.append(await place_and_wait(orders))
        finally:
            await orders.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes, time.perf_counter() - started


def place_orders(orders_url: str, count: int, concurrency: int) -> tuple[list[Outcome], float]:
    """`run_orders` on uvloop (when installed), as the services run: the client's CPU is
    taken from the cores it measures."""
    return runtime.run(run_orders(orders_url, count, concurrency), "auto")


# --- databases ------------------------------------------------------------------


@contextlib.contextmanager
def databases(
    kind: str, folder: pathlib.Path, *, log_statements: bool = False
) -> collections.abc.Generator[tuple[str, str]]:
    """The orders and inventory database URLs: from the environment, SQLite files in
    `folder`, or PostgreSQL databases created now and dropped after the block (logging
    every statement when `log_statements` is set)."""
    named = os.environ.get("ORDERS_DATABASE_URL"), os.environ.get("INVENTORY_DATABASE_URL")
    if named[0] and named[1]:
        yield named[0], named[1]
        return
    if kind == "sqlite":
        yield (
            f"sqlite+aiosqlite:///{folder / 'orders.db'}",
            (f"sqlite+aiosqlite:///{folder / 'inventory.db'}"),
        )
        return
    admin = sa.make_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    names = [f"bench_e2e_{service}_{uuid.uuid4().hex[:8]}" for service in ("orders", "inventory")]
    created = [f'CREATE DATABASE "{name}"' for name in names]
    if log_statements:
        created += [f"ALTER DATABASE \"{name}\" SET log_statement = 'all'" for name in names]
    asyncio.run(_admin(admin, created))
    try:
        orders, inventory = (
            admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
                hide_password=False
            )
            for name in names
        )
        yield orders, inventory
    finally:
        asyncio.run(_admin(admin, [f'DROP DATABASE "{name}" WITH (FORCE)' for name in names]))


async def _admin(admin: sa.URL, statements: list[str]) -> None:
    engine = create_async_engine(
        admin.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def running_system(
    folder: pathlib.Path, orders_db: str, inventory_db: str
) -> collections.abc.Generator[tuple[ReferenceSystem, LocalKafkaBroker]]:
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(LocalKafkaBroker(log_path=folder / "broker.log"))
        log = stack.enter_context((folder / "system.log").open("a", buffering=1))
        supervisor = stack.enter_context(Supervisor(output=log))
        orders_port, inventory_port = free_ports(2)
        config = SystemConfig(
            bootstrap_servers=broker.bootstrap_servers,
            orders_database_url=orders_db,
            inventory_database_url=inventory_db,
            orders_port=orders_port,
            inventory_port=inventory_port,
            startup_timeout=120.0,
        )
        yield ReferenceSystem(config, supervisor).start(), broker


# --- CPU ------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _all_processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far) of every process."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if fields is not None:
            table[int(entry.name)] = (
                int(fields[1]),
                name,
                (int(fields[11]) + int(fields[12])) / TICKS,
            )
    return table


def cpu_by_group(system: ReferenceSystem) -> dict[str, float]:
    """CPU seconds so far of each service process (with its children), the broker (the
    other children of this process), PostgreSQL (every `postgres` process) and this client."""
    table = _all_processes()
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (parent, _, _) in table.items():
        children[parent].append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, "", 0.0))[2] + sum(tree(child) for child in children[pid])

    groups: dict[str, float] = {}
    service_pids: set[int] = set()
    for name in PROCESSES:
        pid = system.process(name).pid
        if pid is not None:
            service_pids.add(pid)
            groups[name] = tree(pid)
    groups["broker"] = sum(tree(pid) for pid in children[os.getpid()] if pid not in service_pids)
    groups["postgresql"] = sum(cpu for _, name, cpu in table.values() if name == "postgres")
    groups["bench client"] = time.process_time()
    return groups


# --- hops -----------------------------------------------------------------------

HOPS = (
    "POST -> saga row committed",
    "saga first pass -> command in outbox",
    "orders relay -> published (Kafka acked)",
    "Kafka -> inventory inbox",
    "inventory handling -> reply in outbox",
    "inventory relay -> published",
    "Kafka -> orders consumer -> saga resumed",
    "saga rest -> saga row final",
    "event stream -> client",
)


# --- database work ----------------------------------------------------------------

STAT_SETTLE = 11.0  # backends flush their pg_stat counters within 10 s of going idle
COUNTERS = ("transactions", "connections opened", "statements")


def database_names(orders_db: str, inventory_db: str) -> dict[str, str]:
    """service -> PostgreSQL database name, for the PostgreSQL ones."""
    urls = {"orders": orders_db, "inventory": inventory_db}
    return {
        service: str(sa.make_url(url).database)
        for service, url in urls.items()
        if url.startswith("postgresql")
    }


def database_counters(
    url: str, names: dict[str, str], statement_log: pathlib.Path | None
) -> dict[str, dict[str, float]]:
    """service -> counter -> value so far, after letting the backends report; no
    `statements` without a `statement_log` to count them in."""
    if not names:
        return {}
    time.sleep(STAT_SETTLE)
    query = sa.text(
        "SELECT datname, xact_commit + xact_rollback AS transactions, sessions "
        "FROM pg_stat_database WHERE datname = ANY(:names)"
    ).bindparams(names=list(names.values()))
    rows = {str(row["datname"]): row for row in asyncio.run(_rows(_asyncpg_url(url), query))}
    wanted = set(names.values())
    logged = None if statement_log is None else _logged_statements(statement_log, wanted)
    counters: dict[str, dict[str, float]] = {}
    for service, name in names.items():
        if name in rows:
            counters[service] = {
                "transactions": float(rows[name]["transactions"]),
                "connections opened": float(rows[name]["sessions"]),
            }
            if logged is not None:
                counters[service]["statements"] = float(logged.get(name, 0))
    return counters


def _asyncpg_url(url: str) -> str:
    return (
        sa.make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    )


def _logged_statements(path: pathlib.Path, names: set[str]) -> dict[str, int]:
    """How many statements each database in `names` logged in the server's log so far."""
    counts: collections.Counter[str] = collections.Counter()
    with path.open(errors="replace") as log:
        for line in log:
            found = _STATEMENT_LINE.search(line)
            if found is not None and found.group(1) in names:
                counts[found.group(1)] += 1
    return counts


_STATEMENT_LINE = re.compile(r"\S+@(\S+) LOG:  (?:statement|execute [^:]*):")


def _seconds(moment: datetime.datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def _rows(url: str, query: sa.Executable) -> list[sa.RowMapping]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(query)).mappings())
    finally:
        await engine.dispose()


async def hops(
    orders_db: str, inventory_db: str, outcomes: list[Outcome]
) -> dict[str, list[float]]:
    """Each hop's durations in seconds, one per confirmed order, from both databases' rows."""
    schema = Schema()
    saga, log, outbox, inbox = schema.saga, schema.saga_log, schema.outbox, schema.inbox
    sagas = {
        str(row["id"]): row
        for row in await _rows(
            orders_db, sa.select(saga.c.id, saga.c.created_at, saga.c.updated_at)
        )
    }
    entries: dict[str, list[float]] = collections.defaultdict(list)
    for row in await _rows(
        orders_db, sa.select(log.c.saga_id, log.c.created_at).order_by(log.c.id)
    ):
        entries[str(row["saga_id"])].append(row["created_at"].timestamp())
    outbox_columns = (outbox.c.partition_key, outbox.c.event_id, outbox.c.created_at,
                      outbox.c.published_at)  # fmt: skip
    commands = _first_per_key(await _rows(orders_db, sa.select(*outbox_columns)))
    replies = _first_per_key(await _rows(inventory_db, sa.select(*outbox_columns)))
    received = {
        str(row["message_id"]): row["received_at"].timestamp()
        for row in await _rows(inventory_db, sa.select(inbox.c.message_id, inbox.c.received_at))
    }
    durations: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for outcome in outcomes:
        order = outcome.order_id
        if outcome.status != "confirmed" or order is None or order not in sagas:
            continue
        command, reply = commands.get(order), replies.get(order)
        if command is None or reply is None:
            continue
        created, final = sagas[order]["created_at"].timestamp(), sagas[order]["updated_at"]
        reply_published = _seconds(reply["published_at"]) or 0.0
        resumed = next((at for at in entries[order] if at >= reply_published), None)
        moments = [
            outcome.posted_at,
            created,
            command["created_at"].timestamp(),
            _seconds(command["published_at"]),
            received.get(str(command["event_id"])),
            reply["created_at"].timestamp(),
            reply_published,
            resumed,
            final.timestamp(),
            outcome.posted_at + outcome.latency,
        ]
        if any(moment is None for moment in moments):
            continue
        known = typing.cast(list[float], moments)
        for hop, start, end in zip(HOPS, known, known[1:], strict=False):
            durations[hop].append(end - start)
    return durations


def _first_per_key(rows: list[sa.RowMapping]) -> dict[str, sa.RowMapping]:
    first: dict[str, sa.RowMapping] = {}
    for row in sorted(rows, key=lambda row: row["created_at"]):
        first.setdefault(str(row["partition_key"]), row)
    return first


# --- report ---------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(
    outcomes: list[Outcome],
    wall: float,
    args: argparse.Namespace,
    database: str,
    path: dict[str, list[float]],
    cpu: dict[str, float],
    work: dict[str, dict[str, float]],
) -> bool:
    """Print the figures; whether every order was confirmed."""
    latencies_ms = sorted(outcome.latency * 1000 for outcome in outcomes)
    percentiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    per_second = len(outcomes) / wall
    print(
        f"cqrs reference system end to end: {database}, local Tansu broker, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load()}; "
        f"{len(outcomes)} orders, {args.concurrency} at a time, final status pushed (SSE)"
    )
    print("| orders/s | p50 ms | p90 ms | p99 ms | max ms | wall s |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {per_second:.1f} | {percentiles[49]:.0f} | {percentiles[89]:.0f} "
        f"| {percentiles[98]:.0f} | {latencies_ms[-1]:.0f} | {wall:.1f} |"
    )
    print()
    counted = min((len(values) for values in path.values()), default=0)
    print(f"Where the time goes ({counted} confirmed orders with every row found), ms:")
    print("| hop | p50 | p99 |")
    print("|---|---:|---:|")
    done = [sum(hop) for hop in zip(*(path[hop] for hop in HOPS[:-1]), strict=True)]
    for hop, values in [*path.items(), ("POST -> saga final (all but the stream)", done)]:
        if len(values) >= 2:
            quantiles = statistics.quantiles([v * 1000 for v in values], n=100, method="inclusive")
            print(f"| {hop} | {quantiles[49]:.1f} | {quantiles[98]:.1f} |")
    print()
    print("CPU per order, ms (during the timed run):")
    print("| process | CPU ms/order | share of a core |")
    print("|---|---:|---:|")
    for name, seconds in cpu.items():
        print(f"| {name} | {seconds * 1000 / len(outcomes):.2f} | {seconds / wall:.0%} |")
    total = sum(cpu.values())
    print(f"| total | {total * 1000 / len(outcomes):.2f} | {total / wall:.0%} |")
    if work:
        print()
        print("Database work per order (timed run less the idle system's in as long):")
        print("| database | " + " | ".join(COUNTERS) + " |")
        print("|---|" + "---:|" * len(COUNTERS))
        for service, counters in work.items():
            figures = " | ".join(
                # n/a, not 0: statements are counted only with --statement-log
                f"{counters[name] / len(outcomes):.1f}" if name in counters else "n/a"
                for name in COUNTERS
            )
            print(f"| {service} | {figures} |")
    statuses = collections.Counter(outcome.status for outcome in outcomes)
    all_confirmed = statuses == {"confirmed": len(outcomes)}
    if not all_confirmed:
        print(f"WARNING: not every order was confirmed: {dict(statuses)}")
    print(f"orders_per_second={per_second:.1f}")
    print(f"latency_p50_ms={percentiles[49]:.0f}")
    print(f"latency_p99_ms={percentiles[98]:.0f}")
    return all_confirmed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="timed orders (200)")
    parser.add_argument("--concurrency", type=int, default=20, help="orders at a time (20)")
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql"), default="sqlite", help="(sqlite)"
    )
    parser.add_argument(
        "--statement-log",
        type=pathlib.Path,
        help="the PostgreSQL server's log file: count each database's statements in it",
    )
    args = parser.parse_args()
    if args.orders < 2 or args.concurrency < 1:
        parser.error("--orders must be at least 2 and --concurrency at least 1")
    folder = pathlib.Path(tempfile.mkdtemp(prefix="cqrs-bench-e2e-"))
    print(f"processes' output: {folder / 'system.log'}", flush=True)
    admin_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)
    with (
        databases(args.database, folder, log_statements=args.statement_log is not None) as (
            orders_db,
            inventory_db,
        ),
        running_system(folder, orders_db, inventory_db) as (system, _),
    ):
        restock_new_skus(
            system.url("inventory"),
            {SKU: WARMUP_ORDERS + args.orders},
            system.config.operator_token,
        )
        orders_url = system.url("orders")
        place_orders(orders_url, WARMUP_ORDERS, 2)
        names = database_names(orders_db, inventory_db)
        counted_before = database_counters(admin_url, names, args.statement_log)
        before = cpu_by_group(system)
        outcomes, wall = place_orders(orders_url, args.orders, args.concurrency)
        after = cpu_by_group(system)
        counted_after = database_counters(admin_url, names, args.statement_log)
        counted_idle = database_counters(admin_url, names, args.statement_log)
        system.supervisor.check()
        path = asyncio.run(hops(orders_db, inventory_db, outcomes))
    cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    # The idle window is STAT_SETTLE long; the timed one wall + STAT_SETTLE.
    idle_share = (wall + STAT_SETTLE) / STAT_SETTLE
    work = {
        service: {
            name: counted_after[service][name]
            - counted_before[service][name]
            - idle_share * (counted_idle[service][name] - counted_after[service][name])
            for name in counted_after[service]
        }
        for service in counted_after
    }
    database = orders_db.split(":", 1)[0]
    if report(outcomes, wall, args, database, path, cpu, work):
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
