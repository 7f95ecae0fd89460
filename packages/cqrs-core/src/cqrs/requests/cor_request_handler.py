"""Chain of responsibility: several handlers try a request in turn.

Bind a list of `CORRequestHandler` classes to one request type. The mediator
calls the first; a link that cannot handle the request passes it on with
`await self.next(request)`. The events of every link that ran are dispatched.

>>> from cqrs.requests.request import Request
>>> from cqrs.response import Response
>>> class Pay(Request):
...     method: str
>>> class Paid(Response):
...     by: str
>>> class CardHandler(CORRequestHandler[Pay, Paid]):
...     async def handle(self, request: Pay) -> Paid | None:
...         if request.method == "card":
...             return Paid(by="card")
...         return await self.next(request)
"""

from __future__ import annotations

import abc
import typing

from cqrs.requests.request_handler import ReqT, RequestHandler, ResT

__all__ = ("CORRequestHandler", "NextHandler")

NextHandler = typing.Callable[[typing.Any], typing.Awaitable[typing.Any]]


class CORRequestHandler(RequestHandler[ReqT, ResT | None], typing.Generic[ReqT, ResT]):
    """One link of a chain; returns a response, or `await self.next(request)`."""

    _next_handler: NextHandler | None = None

    def set_next(self, next_handler: NextHandler | None) -> None:
        """Set what `next` calls; the mediator does this when it builds the chain."""
        self._next_handler = next_handler

    async def next(self, request: ReqT) -> ResT | None:
        """Pass `request` to the next link; `None` when this is the last one."""
        if self._next_handler is None:
            return None
        return typing.cast("ResT | None", await self._next_handler(request))

    @abc.abstractmethod
    async def handle(self, request: ReqT) -> ResT | None:
        """Handle `request`, or return `await self.next(request)`."""
