"""The `cqrs-demo` console script: the whole reference system on one machine.

It starts a local Kafka-protocol broker (`python -m cqrs_kafka.local`, unless
`KAFKA_BOOTSTRAP_SERVERS` names one), then inventory and orders with their
outbox relays, each a supervised child process; restocks a few SKUs on the
first run, prints where to look, and runs until Ctrl-C or SIGTERM, which stop
everything (the broker last) and exit 0. A process that dies on its own once
the system is up (a `kill -9`, say) is started again after a short backoff,
with one line saying so; one that dies before the system is up stops the
demo with exit code 1 and its last output.

The services log at `LOG_LEVEL` (default WARNING here: each prints the one
line saying where it listens). The launcher makes up an operator token
(scopes `stock.restock` and `admin`), adds it to `OPERATOR_TOKENS` (yours are
kept), restocks with it and prints it: send it as `Authorization: Bearer` to
restock, and give it to the admin consoles. `POST /orders` is limited to
`DEMO_RATE_LIMIT` per client unless `ORDERS_RATE_LIMIT` says otherwise.

```
cqrs-demo --data-dir ./.demo-data --orders-port 8000 --inventory-port 8001 --broker-port 9092
```

Databases are SQLite files in the data directory unless `ORDERS_DATABASE_URL`
or `INVENTORY_DATABASE_URL` is set (for example to a PostgreSQL URL).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import sys
import time
import types

from cqrs_demo.errors import DemoError, StartupError
from cqrs_demo.processes import RestartPolicy, Supervisor
from cqrs_demo.seed import DEMO_STOCK, restock_new_skus
from cqrs_demo.system import ReferenceSystem, SystemConfig

__all__ = ("main", "build_parser")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: The local broker's process name, and what it prints once it answers.
BROKER = "kafka"
BROKER_READY = "Kafka-protocol broker on"
#: `ORDERS_RATE_LIMIT` in the demo: a person at the page never meets it, a flood does.
DEMO_RATE_LIMIT = "20/second"


class _StopRequested(Exception):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of `cqrs-demo`.

    >>> build_parser().parse_args([]).orders_port
    8000
    """
    parser = argparse.ArgumentParser(
        prog="cqrs-demo",
        description="Run the reference system (orders, inventory, a local Kafka-protocol "
        "broker) until Ctrl-C.",
    )
    parser.add_argument(
        "--data-dir",
        type=pathlib.Path,
        default=pathlib.Path(".demo-data"),
        help="where the SQLite databases go (default: ./.demo-data)",
    )
    parser.add_argument("--orders-port", type=int, default=8000, help="orders HTTP port (8000)")
    parser.add_argument(
        "--inventory-port", type=int, default=8001, help="inventory HTTP port (8001)"
    )
    parser.add_argument(
        "--broker-port",
        type=int,
        default=9092,
        help="port of the local broker (9092); unused when KAFKA_BOOTSTRAP_SERVERS is set",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=60.0,
        help="seconds the broker gets to start, and each service to answer GET /health (60)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo until a stop signal (exit 0) or a failure (exit 1)."""
    options = build_parser().parse_args(argv)
    previous = {signum: signal.signal(signum, _request_stop) for signum in STOP_SIGNALS}
    try:
        _run(options)
    except _StopRequested:
        print("cqrs-demo: stopped.", flush=True)
        return 0
    except DemoError as error:
        print(f"cqrs-demo: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _request_stop(signum: int, frame: types.FrameType | None) -> None:
    # Stopping takes a while (each child gets its SIGTERM timeout); further
    # signals must not interrupt the clean-up.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise _StopRequested(signal.Signals(signum).name)


def _run(options: argparse.Namespace) -> None:
    """Start everything, then block until a signal arrives (children that die restart)."""
    data_dir: pathlib.Path = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with Supervisor(restart=RestartPolicy()) as supervisor:
        try:
            bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or _start_broker(
                supervisor, options.broker_port, options.startup_timeout
            )
            config = SystemConfig(
                bootstrap_servers=bootstrap_servers,
                orders_database_url=_database_url("ORDERS_DATABASE_URL", data_dir / "orders.db"),
                inventory_database_url=_database_url(
                    "INVENTORY_DATABASE_URL", data_dir / "inventory.db"
                ),
                orders_port=options.orders_port,
                inventory_port=options.inventory_port,
                startup_timeout=options.startup_timeout,
                environment={
                    "LOG_LEVEL": os.environ.get("LOG_LEVEL") or "WARNING",
                    "ORDERS_RATE_LIMIT": os.environ.get("ORDERS_RATE_LIMIT") or DEMO_RATE_LIMIT,
                },
            )
            system = ReferenceSystem(config, supervisor).start()
            restocked = restock_new_skus(system.url("inventory"), DEMO_STOCK, config.operator_token)
            _print_banner(system, restocked)
            while True:  # until a stop signal raises _StopRequested
                time.sleep(3600)
        finally:
            print("cqrs-demo: stopping ...", flush=True)


def _start_broker(supervisor: Supervisor, port: int, timeout: float) -> str:
    """Run `cqrs_kafka.local`'s command (a `LocalKafkaBroker`) as a supervised child.

    Not in this process: a child has its own session, so a Ctrl-C in the
    terminal does not kill the broker before the services have stopped.
    """
    # Its `main` called, not `-m cqrs_kafka.local`: the package imports that module
    # first, and runpy would warn about it.
    run = "import sys; from cqrs_kafka.local import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", run, "--port", str(port)]
    broker = supervisor.start(BROKER, argv)
    if not broker.wait_for_output(BROKER_READY, timeout):
        raise StartupError(
            f"the local broker did not start on port {port} within {timeout:g}s. "
            f"Its last output:\n{broker.tail()}"
        )
    return f"127.0.0.1:{port}"


def _database_url(variable: str, sqlite_file: pathlib.Path) -> str:
    return os.environ.get(variable) or f"sqlite+aiosqlite:///{sqlite_file}"


def _print_banner(system: ReferenceSystem, restocked: dict[str, int]) -> None:
    token = system.config.operator_token
    orders_url = system.url("orders")
    inventory_url = system.url("inventory")
    if restocked:
        stock = ", ".join(f"{sku} {quantity}" for sku, quantity in restocked.items())
        print(f"cqrs-demo: restocked {stock}", flush=True)
    order = {"customer_id": "alice", "items": [{"sku": "tea", "quantity": 2, "unit_price": "4.50"}]}
    print(
        f"\nThe reference system is up. Orders page: {orders_url}/\n"
        f"APIs: {orders_url}/docs and {inventory_url}/docs\n"
        f"Operator token (restock, admin consoles): {token}\n"
        f"Admin consoles: {orders_url}/admin/ and {inventory_url}/admin/\n"
        f"Try: curl -si -X POST {orders_url}/orders -H 'content-type: application/json' "
        f"-d '{json.dumps(order)}'\n"
        f"Stock: curl -s {inventory_url}/stock/tea\n"
        f"Restock: curl -s -X POST {inventory_url}/stock/tea/restock "
        f"-H 'Authorization: Bearer {token}' -H 'content-type: application/json' "
        "-d '{\"quantity\": 10}'\n"
        "Kill any process (kill -9): it is started again. Ctrl-C stops everything.\n",
        flush=True,
    )
