"""Middlewares wrap every message a mediator handles, outermost first.

A middleware is any async callable taking the message and `handle`, the rest
of the pipeline. For the request mediator `handle` returns the response; for
the streaming mediator it returns the async iterator of responses; for the
event mediator it returns `None`.

>>> class Timing:
...     async def __call__(self, message, handle):
...         return await handle(message)

Mediators take a list of them (`middlewares=`), or python-cqrs's
`MiddlewareChain` (`middleware_chain=`), which is such a list:

>>> chain = MiddlewareChain()
>>> chain.add(Timing())
>>> len(chain)
1
"""

from __future__ import annotations

import collections.abc
import functools
import typing

from cqrs.exceptions import ConfigurationError

__all__ = ("Middleware", "MiddlewareChain", "HandleType", "wrap", "chosen_middlewares")

HandleType = typing.Callable[[typing.Any], typing.Awaitable[typing.Any]]


class Middleware(typing.Protocol):
    """Runs around the handling of one message."""

    async def __call__(self, request: typing.Any, /, handle: HandleType) -> typing.Any:
        """Call `await handle(request)` (or not) and return its result; the message
        comes first (named as the middleware likes), `handle` by keyword."""
        ...


def wrap(middlewares: typing.Sequence[Middleware], handle: HandleType) -> HandleType:
    """Compose `middlewares` around `handle`, the first one outermost.

    With no middlewares `handle` itself comes back, so they cost nothing. A
    middleware with a `compose(handle)` method builds its own layer (a plain
    function may hand a message straight on, without a coroutine of its own).
    """
    for middleware in reversed(middlewares):
        compose = getattr(middleware, "compose", None)
        handle = (
            functools.partial(middleware, handle=handle) if compose is None else compose(handle)
        )
    return handle


def chosen_middlewares(
    middlewares: typing.Sequence[Middleware] | None,
    middleware_chain: typing.Sequence[Middleware] | None,
) -> tuple[Middleware, ...]:
    """The middlewares a mediator was given, under either name (`middleware_chain`
    is python-cqrs's); raises `ConfigurationError` when both are given."""
    if middlewares is not None and middleware_chain is not None:
        raise ConfigurationError(
            "pass middlewares or middleware_chain (python-cqrs's name for them), not both."
        )
    return tuple(middlewares or middleware_chain or ())


class MiddlewareChain(collections.abc.Sequence[Middleware]):
    """An ordered, growable list of middlewares, the first one outermost.

    A mediator reads the chain once, when it is built: add middlewares before.
    """

    def __init__(self, middlewares: typing.Iterable[Middleware] = ()) -> None:
        self._chain = list(middlewares)

    def set(self, chain: typing.Iterable[Middleware]) -> None:
        """Replace the middlewares with `chain`."""
        self._chain = list(chain)

    def add(self, middleware: Middleware) -> None:
        """Append `middleware`, innermost so far."""
        self._chain.append(middleware)

    def wrap(self, handle: HandleType) -> HandleType:
        """Compose the chain around `handle` (see `wrap`)."""
        return wrap(self, handle)

    @typing.overload
    def __getitem__(self, index: int) -> Middleware: ...
    @typing.overload
    def __getitem__(self, index: slice) -> list[Middleware]: ...
    def __getitem__(self, index: int | slice) -> Middleware | list[Middleware]:
        return self._chain[index]

    def __len__(self) -> int:
        return len(self._chain)
