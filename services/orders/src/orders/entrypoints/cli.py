"""The command line: `python -m orders serve|relay|migrate`.

- `serve`: the HTTP API, the reply consumer and the background workers.
- `relay`: the outbox relay alone, until SIGTERM/SIGINT.
- `migrate`: create the missing tables, then exit.

Settings come from the environment (see the README). A setting that does not
parse, or a Kafka cluster that does not answer, ends the command with a
one-line message and status 1 (2 for a usage error).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import typing

from cqrs_kafka.errors import KafkaAdapterError
from orders.main import migrate, relay
from orders.settings import Settings, SettingsError

__all__ = ("main", "build_parser")

LOG_FORMAT: typing.Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    """The parser of the three commands.

    >>> build_parser().parse_args(["migrate"]).command
    'migrate'
    """
    parser = argparse.ArgumentParser(
        prog="python -m orders", description="The orders service of the reference system."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the HTTP API, the reply consumer and the workers")
    commands.add_parser("relay", help="publish the outbox to Kafka until stopped")
    commands.add_parser("migrate", help="create the missing tables and exit")
    return parser


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Run the command `argv` names; return the exit status."""
    command = build_parser().parse_args(argv).command
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = Settings.from_env()
        if command == "serve":
            # Imported here: uvicorn is only needed to serve.
            from orders.entrypoints.server import serve

            serve(settings)
        elif command == "relay":
            asyncio.run(relay(settings))
        else:
            asyncio.run(migrate(settings))
            print("orders schema is up to date", flush=True)
    except (SettingsError, KafkaAdapterError) as error:
        print(f"orders {command}: {error}", file=sys.stderr)
        return 1
    return 0
