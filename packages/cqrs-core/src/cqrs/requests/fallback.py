"""`RequestHandlerFallback`: bind a request to a primary handler and a fallback.

>>> from cqrs.requests.request import Request
>>> from cqrs.requests.request_handler import RequestHandler
>>> class Quote(Request):
...     pass
>>> class LiveQuote(RequestHandler[Quote, float]):
...     async def handle(self, request: Quote) -> float:
...         raise TimeoutError
>>> class CachedQuote(RequestHandler[Quote, float]):
...     async def handle(self, request: Quote) -> float:
...         return 1.0
>>> binding = RequestHandlerFallback(primary=LiveQuote, fallback=CachedQuote)
"""

from __future__ import annotations

import typing

from cqrs.fallback import HandlerFallback
from cqrs.requests.request_handler import RequestHandler, SyncRequestHandler

__all__ = ("RequestHandlerFallback",)


class RequestHandlerFallback(HandlerFallback):
    """Runs `fallback` when `primary` raises (one of `failure_exceptions`, if given)
    or when `circuit_breaker` is open. Both must handle the same request and
    response types; only the events of the handler that succeeded are dispatched.
    """

    handler_bases: typing.ClassVar[tuple[type[typing.Any], ...]] = (
        RequestHandler,
        SyncRequestHandler,
    )
