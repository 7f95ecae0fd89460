"""`serve_app`: run an ASGI app under uvicorn until SIGTERM or SIGINT, then stop cleanly.

Uvicorn handles the two signals itself and, once it has shut down, raises
them again so that the process dies of them; a launcher then sees exit code
-15 instead of 0. Here the signals only ask the server to exit, and the
call returns normally. When the server listens, one line says where:
`inventory listening on http://HOST:PORT` (with the real port when 0 was asked).

```
await serve_app(app, host="127.0.0.1", port=8001)
```
"""

from __future__ import annotations

import collections.abc
import contextlib
import socket

import uvicorn
from starlette.types import ASGIApp

from inventory.entrypoints.signals import stop_on_signals

__all__ = ("serve_app",)


async def serve_app(app: ASGIApp, *, host: str, port: int) -> None:
    """Serve `app` on `host:port` until a stop signal; return once it has shut down."""
    server = _Server(uvicorn.Config(app, host=host, port=port, lifespan="on"))
    with stop_on_signals(server.ask_to_exit):
        await server.serve()


class _Server(uvicorn.Server):
    def ask_to_exit(self) -> None:
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> collections.abc.Generator[None, None, None]:
        # `serve_app` owns the stop signals (see the module docstring).
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"inventory listening on http://{self.config.host}:{port}", flush=True)
