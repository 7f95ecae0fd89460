"""Which event loop and HTTP parser a service process runs on, and running a coroutine on it.

Every process the services start (`serve`, `relay`, `migrate`) runs its
coroutines through `run`, on uvloop when it is installed (servicekit depends
on it wherever it builds, which is everywhere but Windows), and uvicorn parses
HTTP with httptools when installed, else with its pure-Python parser, h11.
Both cut the CPU every request and every record costs.

Two settings turn them off, for whoever debugs something that depends on the
loop or the parser (`servicekit.settings.ServiceSettings`):

- `EVENT_LOOP`: `auto` (the default: uvloop when installed, else the standard
  loop), `uvloop` (refuse to start without it), `asyncio` (the standard loop);
- `HTTP_PARSER`: `auto` (httptools when installed, else h11), `httptools`, `h11`.

A process says what it chose in one log line when it starts
(`describe_loop`, `describe_parser`).

>>> async def main() -> str:
...     return describe_loop()
>>> run(main(), "asyncio")
'asyncio (standard library)'
>>> run(main(), "auto").startswith("uvloop ") == uvloop_available()
True
>>> http_parser("h11")
'h11'
"""

from __future__ import annotations

import asyncio
import collections.abc
import importlib.metadata
import importlib.util
import typing

__all__ = (
    "EventLoop",
    "HttpParser",
    "RuntimeUnavailableError",
    "describe_loop",
    "describe_parser",
    "http_parser",
    "httptools_available",
    "run",
    "uvloop_available",
)

EventLoop = typing.Literal["auto", "uvloop", "asyncio"]
"""What `EVENT_LOOP` may be."""
HttpParser = typing.Literal["auto", "httptools", "h11"]
"""What `HTTP_PARSER` may be."""

_T = typing.TypeVar("_T")


class RuntimeUnavailableError(RuntimeError):
    """The event loop or HTTP parser a setting asks for outright is not installed."""


def uvloop_available() -> bool:
    """Whether uvloop can be imported here."""
    return importlib.util.find_spec("uvloop") is not None


def httptools_available() -> bool:
    """Whether httptools can be imported here."""
    return importlib.util.find_spec("httptools") is not None


def run(main: collections.abc.Coroutine[typing.Any, typing.Any, _T], event_loop: EventLoop) -> _T:
    """Run `main` to its end on a new loop of the kind `event_loop` says, as `asyncio.run` does."""
    if event_loop == "asyncio" or (event_loop == "auto" and not uvloop_available()):
        return asyncio.run(main)
    if not uvloop_available():
        main.close()
        raise RuntimeUnavailableError(
            "EVENT_LOOP=uvloop but uvloop is not installed (it has no Windows build): "
            "install it, or set EVENT_LOOP=auto or asyncio"
        )
    import uvloop

    return uvloop.run(main)


def http_parser(choice: HttpParser) -> typing.Literal["httptools", "h11"]:
    """The parser uvicorn is to use (its `http` setting) for the setting `choice`."""
    if choice == "h11" or (choice == "auto" and not httptools_available()):
        return "h11"
    if not httptools_available():
        raise RuntimeUnavailableError(
            "HTTP_PARSER=httptools but httptools is not installed: "
            "install it, or set HTTP_PARSER=auto or h11"
        )
    return "httptools"


def describe_loop() -> str:
    """The running loop, for a log line: `uvloop 0.21.0` or `asyncio (standard library)`."""
    module = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    return _described(module)


def describe_parser(parser: typing.Literal["httptools", "h11"]) -> str:
    """`parser` with its version, for a log line."""
    return _described(parser)


def _described(distribution: str) -> str:
    if distribution == "asyncio":
        return "asyncio (standard library)"
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return distribution
