"""`python -m inventory serve|relay|migrate`: the three ways to run the inventory.

- `serve`: the HTTP API and the Kafka consumer (and the outbox relay when
  `INVENTORY_RELAY_IN_PROCESS=true`) until SIGTERM or SIGINT; exit code 0.
- `relay`: the outbox relay alone, publishing replies to Kafka until SIGTERM
  or SIGINT.
- `migrate`: create the missing tables, then exit.

Settings come from the environment (`inventory.settings`). A bad setting
ends any command with exit code 1 and a line on stderr saying what to fix;
so does a database or broker that does not answer when `relay` or `migrate`
starts. `serve` fails such a start the way uvicorn does: it logs why and
exits with code 3.

```
INVENTORY_PORT=8001 python -m inventory serve
```
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from cqrs_kafka.errors import BrokerUnavailableError
from inventory import main as wiring
from inventory.application.errors import StorageUnavailableError
from inventory.entrypoints.server import serve_app
from inventory.entrypoints.signals import stop_on_signals
from inventory.settings import Settings, SettingsError

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m inventory", description="The inventory service of the reference system."
    )
    parser.add_argument("command", choices=("serve", "relay", "migrate"))
    command = parser.parse_args(argv).command
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_environment()
        asyncio.run(_COMMANDS[command](settings))
    except (SettingsError, StorageUnavailableError, BrokerUnavailableError) as exc:
        print(f"inventory {command}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Settings) -> None:
    await serve_app(wiring.build(settings).app(), host=settings.host, port=settings.port)


async def _relay(settings: Settings) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop.set):
        async with wiring.relaying(settings):
            print("inventory relay publishing to Kafka", flush=True)
            await stop.wait()


async def _migrate(settings: Settings) -> None:
    await wiring.migrate(settings)
    print("inventory schema is up to date", flush=True)


_COMMANDS = {"serve": _serve, "relay": _relay, "migrate": _migrate}
