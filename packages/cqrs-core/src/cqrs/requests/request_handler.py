"""Request handlers: the use cases behind commands and queries.

A handler takes its dependencies in `__init__` (resolved by the DI container)
and does its work in `handle`. Events it records in `events` are dispatched
by the mediator once `handle` returns.

>>> from cqrs.requests.request import Request
>>> from cqrs.response import Response
>>> class Ping(Request):
...     pass
>>> class Pong(Response):
...     pass
>>> class PingHandler(RequestHandler[Ping, Pong]):
...     async def handle(self, request: Ping) -> Pong:
...         return Pong()
"""

from __future__ import annotations

import abc
import typing

from typing_extensions import TypeVar

from cqrs.events.event_handler import EventSource
from cqrs.requests.request import IRequest

__all__ = (
    "RequestHandler",
    "SyncRequestHandler",
    "StreamingRequestHandler",
    "ReqT",
    "ResT",
)

# Defaults: a handler may leave its types out; the registry reads them from `handle`.
ReqT = TypeVar("ReqT", bound=IRequest, contravariant=True, default=typing.Any)
ResT = TypeVar("ResT", default=typing.Any, covariant=True)


class RequestHandler(EventSource, abc.ABC, typing.Generic[ReqT, ResT]):
    """Handles one request type and returns its response (or `None` for commands)."""

    @abc.abstractmethod
    async def handle(self, request: ReqT) -> ResT:
        """Run the use case for `request` and return the response."""


class SyncRequestHandler(EventSource, abc.ABC, typing.Generic[ReqT, ResT]):
    """A request handler whose `handle` is a plain function.

    It runs on the event loop, so keep it short and free of blocking I/O.
    """

    @abc.abstractmethod
    def handle(self, request: ReqT) -> ResT:
        """Run the use case for `request` and return the response."""


class StreamingRequestHandler(EventSource, abc.ABC, typing.Generic[ReqT, ResT]):
    """Handles a request by yielding partial responses as they become ready.

    After each yielded response the mediator dispatches the events recorded
    so far, then calls `clear_events`.
    """

    @abc.abstractmethod
    def handle(self, request: ReqT) -> typing.AsyncIterator[ResT]:
        """Yield responses for `request`; write it as an `async def` generator."""

    def clear_events(self) -> None:
        """Forget the events already dispatched; override when `events` accumulates."""
