"""The whole reference system: orders per second, and latency from POST to the final status.

Run with `uv run python bench/e2e.py [--orders 200] [--concurrency 20]`.

It starts the system the way `cqrs-demo` does (`cqrs_demo.ReferenceSystem`:
inventory and orders, each a server and an outbox relay, as processes) on a
local Kafka-protocol broker started for the run, with SQLite files in a
temporary folder, unless `ORDERS_DATABASE_URL` / `INVENTORY_DATABASE_URL`
name other (empty, throwaway) databases, such as PostgreSQL ones.

One SKU is restocked with enough units for every order. After a few
untimed warm-up orders, `--orders` orders of one unit each are placed by
`--concurrency` workers; a worker POSTs an order, then polls
`GET /orders/{id}` every `--poll-interval` seconds until it is confirmed or
rejected, then places its next order. Latency is the time from sending the
POST to reading the final status, so it includes up to one poll interval
(0.25 s by default, the pace of the orders page's event stream). Throughput
is the orders finished over the wall time of the whole run. A request that
fails (after httpx's 30 s timeout, say) ends its order, counted as failed.

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
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import time

import httpx

from cqrs_demo import ReferenceSystem, Supervisor, SystemConfig, restock_new_skus
from cqrs_kafka.local import LocalKafkaBroker, free_ports

SKU = "bench-tea"
WARMUP_ORDERS = 10
FINAL_STATUSES = frozenset({"confirmed", "rejected"})
ORDER_TIMEOUT = 120.0


@dataclasses.dataclass
class Outcome:
    status: str
    latency: float  # seconds from the POST to reading the final status


async def place_and_wait(http: httpx.AsyncClient, orders_url: str, poll_interval: float) -> Outcome:
    """One order, from its POST to its final status; a failed request ends it too."""
    body = {"customer_id": "bench", "items": [{"sku": SKU, "quantity": 1, "unit_price": "1.00"}]}
    started = time.perf_counter()
    try:
        response = await http.post(f"{orders_url}/orders", json=body)
        response.raise_for_status()
        order_url = f"{orders_url}/orders/{response.json()['order_id']}"
        while time.perf_counter() - started < ORDER_TIMEOUT:
            await asyncio.sleep(poll_interval)
            response = await http.get(order_url)
            response.raise_for_status()
            if response.json()["status"] in FINAL_STATUSES:
                return Outcome(response.json()["status"], time.perf_counter() - started)
        status = "timed out"
    except httpx.HTTPError as error:
        status = f"{type(error).__name__}"
    return Outcome(status, time.perf_counter() - started)


async def run_orders(
    orders_url: str, count: int, concurrency: int, poll_interval: float
) -> tuple[list[Outcome], float]:
    """Place `count` orders with `concurrency` workers; the outcomes and the wall time."""
    remaining = iter(range(count))
    outcomes: list[Outcome] = []

    async def worker(http: httpx.AsyncClient) -> None:
        for _ in remaining:
            outcomes.append(await place_and_wait(http, orders_url, poll_interval))

    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return outcomes, time.perf_counter() - started


@contextlib.contextmanager
def running_system(folder: pathlib.Path) -> collections.abc.Generator[ReferenceSystem, None, None]:
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(LocalKafkaBroker(log_path=folder / "broker.log"))
        log = stack.enter_context((folder / "system.log").open("a", buffering=1))
        supervisor = stack.enter_context(Supervisor(output=log))
        orders_port, inventory_port = free_ports(2)
        config = SystemConfig(
            bootstrap_servers=broker.bootstrap_servers,
            orders_database_url=os.environ.get("ORDERS_DATABASE_URL")
            or f"sqlite+aiosqlite:///{folder / 'orders.db'}",
            inventory_database_url=os.environ.get("INVENTORY_DATABASE_URL")
            or f"sqlite+aiosqlite:///{folder / 'inventory.db'}",
            orders_port=orders_port,
            inventory_port=inventory_port,
            startup_timeout=120.0,
        )
        yield ReferenceSystem(config, supervisor).start()


def report(outcomes: list[Outcome], wall: float, args: argparse.Namespace, database: str) -> bool:
    """Print the figures; whether every order was confirmed."""
    latencies_ms = sorted(outcome.latency * 1000 for outcome in outcomes)
    percentiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    per_second = len(outcomes) / wall
    print(
        f"cqrs reference system end to end: {database}, local Tansu broker, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; {len(outcomes)} orders, "
        f"{args.concurrency} at a time, polled every {args.poll_interval * 1000:g} ms"
    )
    print("| orders/s | p50 ms | p90 ms | p99 ms | max ms | wall s |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {per_second:.1f} | {percentiles[49]:.0f} | {percentiles[89]:.0f} "
        f"| {percentiles[98]:.0f} | {latencies_ms[-1]:.0f} | {wall:.1f} |"
    )
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
        "--poll-interval", type=float, default=0.25, help="seconds between status polls (0.25)"
    )
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="cqrs-bench-e2e-"))
    print(f"processes' output: {folder / 'system.log'}", flush=True)
    with running_system(folder) as system:
        database = system.config.orders_database_url.split(":", 1)[0]
        restock_new_skus(system.url("inventory"), {SKU: WARMUP_ORDERS + args.orders})
        orders_url = system.url("orders")
        asyncio.run(run_orders(orders_url, WARMUP_ORDERS, 2, args.poll_interval))
        outcomes, wall = asyncio.run(
            run_orders(orders_url, args.orders, args.concurrency, args.poll_interval)
        )
        system.supervisor.check()
    if report(outcomes, wall, args, database):
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
