"""The command line: `inventory serve|relay|migrate` (also `python -m inventory ...`).

- `serve`: the HTTP API and the Kafka consumer (and the outbox relay when
  `INVENTORY_RELAY_IN_PROCESS=true`) until SIGTERM or SIGINT.
- `relay`: the outbox relay alone, publishing replies to Kafka until SIGTERM
  or SIGINT.
- `migrate`: create the missing tables, then exit.

`inventory --help`, `inventory COMMAND --help` and `inventory --version` say
the rest. Settings come from the environment (`inventory.settings`). A
setting that does not parse, or a database or Kafka cluster that does not
answer when the command starts, ends it with a one-line message and status 1
(2 for a usage error); SIGTERM and SIGINT end it cleanly with status 0.

>>> main(["--version"])
inventory 0.1.0
0
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import typing

from cqrs_kafka.errors import KafkaAdapterError
from inventory.application.errors import StorageUnavailableError
from inventory.main import build, migrate, prepare, relaying
from inventory.settings import Settings
from servicekit.cli import Command, run_cli
from servicekit.server import run_until_stopped, serve

__all__ = ("main",)

#: What ends a command with one line instead of a traceback: a dependency that is down.
FAILURES: typing.Final = (KafkaAdapterError, StorageUnavailableError)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); the exit status."""
    return run_cli(
        "inventory",
        importlib.metadata.version("cqrs-demo-inventory"),
        Settings,
        {
            "serve": Command("run the HTTP API and the command consumer", _serve),
            "relay": Command("publish the outbox's replies to Kafka until stopped", _relay),
            "migrate": Command("create the missing tables and exit", _migrate),
        },
        failures=FAILURES,
        argv=argv,
    )


def _serve(settings: Settings) -> None:
    # Checked before serving, not only in the lifespan, so that a broker or database
    # that is down is one line (FAILURES) instead of uvicorn's traceback.
    asyncio.run(prepare(settings))
    serve(build(settings).app, name="inventory", host=settings.host, port=settings.port)


def _relay(settings: Settings) -> None:
    ready = f"inventory relay publishing to {settings.kafka_bootstrap_servers}"
    asyncio.run(run_until_stopped(relaying(settings), ready=ready))


def _migrate(settings: Settings) -> None:
    asyncio.run(migrate(settings))
    print("inventory schema is up to date", flush=True)
