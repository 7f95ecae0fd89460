"""Read the type arguments a class gave to a generic base, e.g. a handler's request type."""

from __future__ import annotations

import typing

__all__ = ("generic_args",)


def generic_args(
    cls: type[object], base: type[object] | tuple[type[object], ...]
) -> tuple[typing.Any, ...] | None:
    """Return the arguments the nearest parametrised subclass of `base` got, or `None`.

    `generic_args(PingHandler, RequestHandler)` is `(Ping, Pong)` for
    `class PingHandler(RequestHandler[Ping, Pong])`, and also for a
    `CORRequestHandler[Ping, Pong]` (our generic handler bases all take the
    request type first and the response type second).
    """
    for klass in cls.__mro__:
        for orig in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(orig)
            if isinstance(origin, type) and issubclass(origin, base):
                return typing.get_args(orig)
    return None
