"""The command line: `orders serve|relay|migrate` (also `python -m orders ...`).

- `serve`: the HTTP API, the reply consumer and the background workers.
- `relay`: the outbox relay alone, until SIGTERM/SIGINT.
- `migrate`: upgrade the schema to the newest revisions (Alembic), say which
  were applied (or that it was at head already), then exit.

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

import importlib.metadata
import typing

from cqrs_kafka.errors import KafkaAdapterError
from orders.application.errors import StorageUnavailableError
from orders.main import build, migrate, prepare, relaying
from orders.settings import Settings
from servicekit.cli import run_cli, service_commands

__all__ = ("main",)

#: What ends a command with one line instead of a traceback: a dependency that is down.
FAILURES: typing.Final = (KafkaAdapterError, StorageUnavailableError)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); the exit status."""
    commands = service_commands(
        "orders",
        app=lambda settings: build(settings).app,
        prepare=prepare,
        relaying=relaying,
        migrate=migrate,
    )
    version = importlib.metadata.version("cqrs-demo-orders")
    return run_cli("orders", version, Settings, commands, failures=FAILURES, argv=argv)
