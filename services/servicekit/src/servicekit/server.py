"""Running a service's processes until SIGTERM or SIGINT, then stopping cleanly (exit 0).

- `serve(app, name=..., host=..., port=...)`: the HTTP server (uvicorn, its
  logging left to `servicekit.logs`), on the event loop and with the HTTP
  parser `event_loop` and `http_parser` say (`servicekit.runtime`: uvloop and
  httptools unless told otherwise), logged once at start. Once the socket
  accepts connections it prints one line,
  `NAME listening on http://HOST:PORT (pid N)` (the port really bound when 0
  was asked).
- `run_until_stopped(work, ready=...)`: a background process (an outbox
  relay): `work` is entered, the loop logged, `ready (pid N)` printed, and the
  block left on a stop signal.

The pid is there for whoever wants to see the system heal from a `kill -9`.
- `stop_on_signals(stop)`: call `stop` on the running loop at SIGTERM/SIGINT.

Uvicorn alone would raise the signal it stopped on again once shut down, so
that a launcher sees the process die of SIGTERM instead of exiting 0; here
the signals only ask the server to exit. `app` is a function of `stopping`
(an `asyncio.Event` set once a stop was asked for), so that long responses,
such as event streams, end instead of holding the shutdown up.

```
serve(lambda stopping: create_app(stopping=stopping), name="orders", host="127.0.0.1", port=8000)
runtime.run(run_until_stopped(running_relay(...), ready="orders relay publishing to Kafka"), "auto")
```
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import logging
import os
import signal
import socket
import typing

import uvicorn
from starlette.types import ASGIApp

from servicekit import runtime

__all__ = (
    "GRACEFUL_SHUTDOWN",
    "STOP_SIGNALS",
    "Stopping",
    "run_until_stopped",
    "serve",
    "stop_on_signals",
)

GRACEFUL_SHUTDOWN: typing.Final = 10
"""Seconds open connections get to finish once a stop was asked for."""
STOP_SIGNALS: typing.Final = (signal.SIGTERM, signal.SIGINT)
"""How a launcher (SIGTERM) or a terminal (Ctrl-C) ends a process."""

Stopping = asyncio.Event
"""Set once the process was asked to stop."""


@contextlib.contextmanager
def stop_on_signals(
    stop: collections.abc.Callable[[], object],
) -> collections.abc.Generator[None, None, None]:
    """Call `stop` on the running event loop whenever a stop signal arrives within the block.

    >>> async def main() -> None:
    ...     with stop_on_signals(lambda: None):
    ...         pass
    >>> asyncio.run(main())
    """
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


_log = logging.getLogger(__name__)


def serve(
    app: collections.abc.Callable[[Stopping], ASGIApp],
    *,
    name: str,
    host: str,
    port: int,
    event_loop: runtime.EventLoop = "auto",
    http_parser: runtime.HttpParser = "auto",
) -> None:
    """Serve the app `app(stopping)` makes on `host:port` until a stop signal.

    Raises `runtime.RuntimeUnavailableError` when `event_loop` or `http_parser` names
    one that is not installed."""
    parser = runtime.http_parser(http_parser)
    stopping = asyncio.Event()
    server = _Server(
        uvicorn.Config(
            app(stopping),
            host=host,
            port=port,
            http=parser,
            lifespan="on",
            log_config=None,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        ),
        name,
        stopping,
        parser,
    )
    runtime.run(_serve(server), event_loop)


async def run_until_stopped(
    work: contextlib.AbstractAsyncContextManager[object], *, ready: str
) -> None:
    """Enter `work`, print `ready`, and leave it when a stop signal arrives."""
    stop = asyncio.Event()
    with stop_on_signals(stop.set):
        async with work:
            _log.info("%s: event loop %s", ready, runtime.describe_loop())
            print(f"{ready} (pid {os.getpid()})", flush=True)
            await stop.wait()


async def _serve(server: _Server) -> None:
    with stop_on_signals(server.ask_to_exit):
        await server.serve()


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        name: str,
        stopping: asyncio.Event,
        parser: typing.Literal["httptools", "h11"],
    ) -> None:
        super().__init__(config)
        self._name = name
        self._stopping = stopping
        self._parser: typing.Literal["httptools", "h11"] = parser

    def ask_to_exit(self) -> None:
        self.should_exit = True
        self._stopping.set()

    @contextlib.contextmanager
    def capture_signals(self) -> collections.abc.Generator[None, None, None]:
        # `_serve` owns the stop signals (see the module docstring).
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            url = f"http://{self.config.host}:{port}"
            _log.info(
                "%s: event loop %s, HTTP parser %s",
                self._name,
                runtime.describe_loop(),
                runtime.describe_parser(self._parser),
            )
            print(f"{self._name} listening on {url} (pid {os.getpid()})", flush=True)
