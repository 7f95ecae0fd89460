"""Middlewares wrap every message a mediator handles, outermost first.

A middleware is any async callable taking the message and `handle`, the rest
of the pipeline. For the request mediator `handle` returns the response; for
the streaming mediator it returns the async iterator of responses; for the
event mediator it returns `None`.

>>> class Timing:
...     async def __call__(self, message, handle):
...         return await handle(message)
"""

from __future__ import annotations

import functools
import typing

__all__ = ("Middleware", "HandleType", "wrap")

HandleType = typing.Callable[[typing.Any], typing.Awaitable[typing.Any]]


class Middleware(typing.Protocol):
    """Runs around the handling of one message."""

    async def __call__(self, request: typing.Any, handle: HandleType) -> typing.Any:
        """Call `await handle(request)` (or not) and return its result."""
        ...


def wrap(middlewares: typing.Sequence[Middleware], handle: HandleType) -> HandleType:
    """Compose `middlewares` around `handle`, the first one outermost.

    With no middlewares `handle` itself comes back, so they cost nothing.
    """
    for middleware in reversed(middlewares):
        handle = functools.partial(middleware, handle=handle)
    return handle
