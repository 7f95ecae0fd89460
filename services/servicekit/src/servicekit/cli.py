"""One command line for every service: `NAME serve|relay|migrate`, with `--help` and `--version`.

`run_cli` parses the arguments, loads the service's settings, sets logging up
once (`LOG_LEVEL`, `LOG_FORMAT`, see `servicekit.logs`) and runs the command;
`service_commands` makes the three commands every service has from its
composition root:

- `serve`: `prepare` (the schema and the topics), then the HTTP app until
  stopped, with `GET /metrics` (FastAPI itself makes a server span per request);
- `relay`: the outbox relay (`relaying`) until stopped, after one ready line,
  serving its metrics on `OTEL_EXPORTER_PROMETHEUS_PORT` when that is set;
- `migrate`: upgrade the schema (`servicekit.migrations`), print what it did, exit.

`prepare` and `relaying` upgrade the schema too, or refuse a database that is
behind when `PREFIX_MIGRATE_ON_START` is false (`SchemaVersionError`).

Every command runs on the event loop `EVENT_LOOP` says (uvloop by default,
`servicekit.runtime`), `serve` with the HTTP parser `HTTP_PARSER` says
(httptools by default); both log which they use when they start.

`serve` and `relay` set telemetry up once, from the standard `OTEL_*`
variables (`servicekit.telemetry`), and flush it when they end.

A setting that does not parse, a library setting that cannot work (cqrs's
`ConfigurationError`, such as a `KAFKA_SECURITY_PROTOCOL` without what it
needs), or a dependency that does not answer when the command starts (the
service's `failures`), ends it with one line on standard
error naming what to fix, and exit status 1; a usage error exits with 2.

>>> def migrate(settings: ServiceSettings) -> None:
...     print("demo schema: already at head demo_0001")
>>> commands = {"migrate": Command("upgrade the schema and exit", migrate)}
>>> run_cli("demo", "1.0", ServiceSettings, commands, argv=["migrate"], environ={})
demo schema: already at head demo_0001
0
>>> run_cli("demo", "1.0", ServiceSettings, commands, argv=["--version"])
demo 1.0
0
"""

from __future__ import annotations

import argparse
import collections.abc
import contextlib
import dataclasses
import sys
import typing

import fastapi

from cqrs.exceptions import ConfigurationError
from servicekit import runtime
from servicekit.logs import configure_logging
from servicekit.migrations import SchemaVersionError
from servicekit.server import Stopping, run_until_stopped, serve
from servicekit.settings import ServiceSettings, SettingsError
from servicekit.telemetry import (
    Telemetry,
    TelemetrySettingError,
    install_metrics_route,
    serve_metrics,
    telemetry_from_env,
)

__all__ = ("Command", "run_cli", "service_commands")

_Settings = typing.TypeVar("_Settings", bound=ServiceSettings)
_Step = collections.abc.Callable[
    [_Settings], collections.abc.Coroutine[typing.Any, typing.Any, None]
]
_Report = collections.abc.Callable[
    [_Settings], collections.abc.Coroutine[typing.Any, typing.Any, str]
]


@dataclasses.dataclass(frozen=True)
class Command(typing.Generic[_Settings]):
    """One command: what `--help` says of it, and what it runs with the settings."""

    help: str
    run: collections.abc.Callable[[_Settings], None]


def run_cli(
    name: str,
    version: str,
    settings: type[_Settings],
    commands: collections.abc.Mapping[str, Command[_Settings]],
    *,
    failures: tuple[type[Exception], ...] = (),
    argv: collections.abc.Sequence[str] | None = None,
    environ: collections.abc.Mapping[str, str] | None = None,
) -> int:
    """Run the command `argv` names (default: the process's arguments); the exit status."""
    parser = argparse.ArgumentParser(prog=name, description=f"The {name} service.")
    parser.add_argument("--version", action="version", version=f"{name} {version}")
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb, command in commands.items():
        verbs.add_parser(verb, help=command.help, description=command.help)
    try:
        chosen: str = parser.parse_args(argv).command
    except SystemExit as exit:
        # --help and --version exit 0 after printing; a usage error exits 2.
        return exit.code if isinstance(exit.code, int) else 0
    try:
        loaded = settings.load(environ)
        configure_logging(loaded.log_level, loaded.log_format)
        commands[chosen].run(loaded)
    except (
        SettingsError,
        ConfigurationError,
        TelemetrySettingError,
        SchemaVersionError,
        runtime.RuntimeUnavailableError,
        *failures,
    ) as error:
        print(f"{name} {chosen}: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def service_commands(
    name: str,
    *,
    app: collections.abc.Callable[
        [_Settings], collections.abc.Callable[[Stopping], fastapi.FastAPI]
    ],
    prepare: _Step[_Settings],
    relaying: collections.abc.Callable[[_Settings], contextlib.AbstractAsyncContextManager[None]],
    migrate: _Report[_Settings],
) -> dict[str, Command[_Settings]]:
    """`serve`, `relay` and `migrate` of service `name`, from its composition root:
    `app(settings)` makes the HTTP app of `stopping`, `prepare` readies the schema and
    the topics, `relaying` runs the outbox relay for a block, `migrate` upgrades the
    schema and says what it did in one line."""

    def run_serve(settings: _Settings) -> None:
        with _telemetry() as telemetry:
            # Checked before serving, not only in the lifespan, so that a broker or database
            # that is down is one line (the CLI's `failures`) instead of uvicorn's traceback.
            runtime.run(prepare(settings), settings.event_loop)
            make_app = app(settings)

            def observed(stopping: Stopping) -> fastapi.FastAPI:
                served = make_app(stopping)
                install_metrics_route(served, telemetry)
                return served

            serve(
                observed,
                name=name,
                host=settings.host,
                port=settings.port,
                event_loop=settings.event_loop,
                http_parser=settings.http_parser,
            )

    def run_relay(settings: _Settings) -> None:
        ready = f"{name} relay publishing to {settings.kafka_bootstrap_servers}"
        with _telemetry() as telemetry:
            metrics = (
                None
                if telemetry.prometheus_port is None
                else serve_metrics(telemetry, telemetry.prometheus_port, telemetry.prometheus_host)
            )
            try:
                runtime.run(run_until_stopped(relaying(settings), ready=ready), settings.event_loop)
            finally:
                if metrics is not None:
                    metrics.shutdown()
                    metrics.server_close()

    def run_migrate(settings: _Settings) -> None:
        print(runtime.run(migrate(settings), settings.event_loop), flush=True)

    return {
        "serve": Command("run the HTTP API and what runs beside it until stopped", run_serve),
        "relay": Command("publish the outbox to Kafka until stopped", run_relay),
        "migrate": Command(
            "upgrade the schema to the newest revisions (alembic upgrade heads) and exit",
            run_migrate,
        ),
    }


@contextlib.contextmanager
def _telemetry() -> collections.abc.Generator[Telemetry, None, None]:
    """The process's telemetry from its `OTEL_*` variables, installed; flushed at the end."""
    telemetry = telemetry_from_env()
    telemetry.install()
    try:
        yield telemetry
    finally:
        telemetry.shutdown()
