"""One command line for every service: `NAME serve|relay|migrate`, with `--help` and `--version`.

`run_cli` parses the arguments, loads the service's settings, sets logging up
once (`LOG_LEVEL`, `LOG_FORMAT`, see `servicekit.logs`) and runs the command.
A setting that does not parse, or a dependency that does not answer when the
command starts (the service's `failures`), ends it with one line on standard
error naming what to fix, and exit status 1; a usage error exits with 2.

>>> def migrate(settings: ServiceSettings) -> None:
...     print("schema is up to date")
>>> commands = {"migrate": Command("create the missing tables and exit", migrate)}
>>> run_cli("demo", "1.0", ServiceSettings, commands, argv=["migrate"], environ={})
schema is up to date
0
>>> run_cli("demo", "1.0", ServiceSettings, commands, argv=["--version"])
demo 1.0
0
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import sys
import typing

from servicekit.logs import configure_logging
from servicekit.settings import ServiceSettings, SettingsError

__all__ = ("Command", "run_cli")

_Settings = typing.TypeVar("_Settings", bound=ServiceSettings)


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
    except (SettingsError, *failures) as error:
        print(f"{name} {chosen}: {error}", file=sys.stderr, flush=True)
        return 1
    return 0
