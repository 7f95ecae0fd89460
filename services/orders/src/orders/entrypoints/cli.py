"""The command line: `orders serve|relay|migrate` (also `python -m orders ...`).

- `serve`: the HTTP API, the reply consumer and the background workers.
- `relay`: the outbox relay alone, until SIGTERM/SIGINT.
- `migrate`: create the missing tables, then exit.

`orders --help`, `orders COMMAND --help` and `orders --version` say the rest.
Settings come from the environment (`orders.settings`). A setting that does
not parse, or a database or Kafka cluster that does not answer when the
command starts, ends it with a one-line message and status 1 (2 for a usage
error); SIGTERM and SIGINT end it cleanly with status 0.

>>> main(["--version"])
orders 0.1.0
0
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import typing

from cqrs_kafka.errors import KafkaAdapterError
from orders.application.errors import StorageUnavailableError
from orders.main import build, migrate, prepare, relaying
from orders.settings import Settings
from servicekit.cli import Command, run_cli
from servicekit.server import run_until_stopped, serve

__all__ = ("main",)

#: What ends a command with one line instead of a traceback: a dependency that is down.
FAILURES: typing.Final = (KafkaAdapterError, StorageUnavailableError)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); the exit status."""
    return run_cli(
        "orders",
        importlib.metadata.version("cqrs-demo-orders"),
        Settings,
        {
            "serve": Command("run the HTTP API, the reply consumer and the workers", _serve),
            "relay": Command("publish the outbox to Kafka until stopped", _relay),
            "migrate": Command("create the missing tables and exit", _migrate),
        },
        failures=FAILURES,
        argv=argv,
    )


def _serve(settings: Settings) -> None:
    # Checked before serving, not only in the lifespan, so that a broker or database
    # that is down is one line (FAILURES) instead of uvicorn's traceback.
    asyncio.run(prepare(settings))
    serve(build(settings).app, name="orders", host=settings.host, port=settings.port)


def _relay(settings: Settings) -> None:
    ready = f"orders relay publishing to {settings.kafka_bootstrap_servers}"
    asyncio.run(run_until_stopped(relaying(settings), ready=ready))


def _migrate(settings: Settings) -> None:
    asyncio.run(migrate(settings))
    print("orders schema is up to date", flush=True)
