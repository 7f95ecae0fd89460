"""`serve`: the HTTP server (uvicorn) with the service's lifespan, stopped by SIGTERM/SIGINT.

It prints `orders listening on http://HOST:PORT` once the socket accepts
connections (the port actually bound, should `ORDERS_PORT` be 0), and exits
with status 0 after a clean shutdown.
"""

from __future__ import annotations

import signal
import socket
import types
import typing

import uvicorn

from orders.main import build, create_app
from orders.settings import Settings

__all__ = ("serve", "GRACEFUL_SHUTDOWN")

#: Seconds open connections get to finish once a stop was asked for.
GRACEFUL_SHUTDOWN: typing.Final = 10


class _Server(uvicorn.Server):
    """A uvicorn server that says where it listens once it does."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"orders listening on http://{self.config.host}:{port}", flush=True)


def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then shut down cleanly."""
    # uvicorn handles the signals while it serves, then raises the one it stopped on
    # again for the handler it found; this one makes that (or an early signal) a
    # clean exit.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    orders = build(settings)
    config = uvicorn.Config(
        create_app(orders, stopping=lambda: server.should_exit),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    server = _Server(config)
    server.run()


def _exit_cleanly(signum: int, frame: types.FrameType | None) -> None:
    raise SystemExit(0)
