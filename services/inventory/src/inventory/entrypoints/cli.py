"""The command line: `inventory serve|relay|migrate` (also `python -m inventory ...`).

- `serve`: the HTTP API and the Kafka consumer (and the outbox relay when
  `INVENTORY_RELAY_IN_PROCESS=true`) until SIGTERM or SIGINT.
- `relay`: the outbox relay alone, publishing replies to Kafka until SIGTERM
  or SIGINT.
- `migrate`: upgrade the schema to the newest revisions (Alembic), say which
  were applied (or that it was at head already), then exit.

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

import importlib.metadata
import typing

from cqrs_kafka.errors import KafkaAdapterError
from inventory.application.errors import StorageUnavailableError
from inventory.main import build, migrate, prepare, relaying
from inventory.settings import Settings
from servicekit.cli import run_cli, service_commands

__all__ = ("main",)

#: What ends a command with one line instead of a traceback: a dependency that is down.
FAILURES: typing.Final = (KafkaAdapterError, StorageUnavailableError)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); the exit status."""
    commands = service_commands(
        "inventory",
        app=lambda settings: build(settings).app,
        prepare=prepare,
        relaying=relaying,
        migrate=migrate,
    )
    version = importlib.metadata.version("cqrs-demo-inventory")
    return run_cli("inventory", version, Settings, commands, failures=FAILURES, argv=argv)
