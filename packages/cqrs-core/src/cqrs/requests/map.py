"""`RequestMap`: which handler serves which request type.

A request type is bound once, to one of:

* a handler class (`RequestHandler`, `SyncRequestHandler` or, for the
  streaming mediator, `StreamingRequestHandler`);
* a list of `CORRequestHandler` classes, a chain tried in order;
* a `RequestHandlerFallback`.

>>> from cqrs.requests.request import Request
>>> from cqrs.requests.request_handler import RequestHandler
>>> class Ping(Request):
...     pass
>>> class PingHandler(RequestHandler[Ping, None]):
...     async def handle(self, request: Ping) -> None:
...         pass
>>> mapper = RequestMap()
>>> mapper.bind(Ping, PingHandler)

`SagaMap` is importable from here too, where python-cqrs kept it.
"""

from __future__ import annotations

import typing

from cqrs._generics import generic_args
from cqrs.exceptions import DuplicateBindingError, InvalidBindingError, RequestHandlerNotFoundError
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.request_handler import (
    RequestHandler,
    StreamingRequestHandler,
    SyncRequestHandler,
)
from cqrs.saga.map import SagaMap

__all__ = ("RequestMap", "SagaMap", "RequestBinding", "HANDLER_BASES")

HANDLER_BASES: typing.Final = (RequestHandler, SyncRequestHandler, StreamingRequestHandler)

RequestBinding = (
    type[typing.Any]
    | tuple[type[CORRequestHandler[typing.Any, typing.Any]], ...]
    | RequestHandlerFallback
)


class RequestMap:
    """Request type -> handler binding; each request type is bound at most once."""

    def __init__(self) -> None:
        self._bindings: dict[type[typing.Any], RequestBinding] = {}

    def bind(
        self,
        request_type: type[typing.Any],
        handler: type[typing.Any]
        | typing.Sequence[type[CORRequestHandler[typing.Any, typing.Any]]]
        | RequestHandlerFallback,
    ) -> None:
        """Bind `request_type` to `handler`.

        Raises `DuplicateBindingError` if the type is bound already, and
        `InvalidBindingError` if `handler` is not a handler, a non-empty list
        of `CORRequestHandler`s, or a `RequestHandlerFallback`, or if it
        declares a different request type.
        """
        if not isinstance(request_type, type):
            raise InvalidBindingError(f"bind() takes a request class, got {request_type!r}.")
        if request_type in self._bindings:
            raise DuplicateBindingError(
                f"{request_type.__qualname__} is already bound to "
                f"{self._bindings[request_type]!r}; a request has exactly one handler. "
                f"Bind a list of CORRequestHandlers for a chain, or a RequestHandlerFallback."
            )
        self._bindings[request_type] = _checked(request_type, handler)

    def get(self, request_type: type[typing.Any]) -> RequestBinding:
        """Return the binding; raise `RequestHandlerNotFoundError` if there is none."""
        try:
            return self._bindings[request_type]
        except KeyError:
            raise RequestHandlerNotFoundError(request_type) from None

    def items(self) -> typing.ItemsView[type[typing.Any], RequestBinding]:
        """All bindings, in the order they were made."""
        return self._bindings.items()

    def __contains__(self, request_type: object) -> bool:
        return request_type in self._bindings

    def __len__(self) -> int:
        return len(self._bindings)


def _checked(request_type: type[typing.Any], handler: object) -> RequestBinding:
    if isinstance(handler, RequestHandlerFallback):
        _check_request_type(request_type, handler.primary)
        return handler
    if isinstance(handler, (list, tuple)):
        chain = tuple(typing.cast("typing.Sequence[object]", handler))
        if not chain or not all(
            isinstance(link, type) and issubclass(link, CORRequestHandler) for link in chain
        ):
            raise InvalidBindingError(
                f"{request_type.__qualname__}: a chain must be a non-empty list of "
                f"CORRequestHandler subclasses, got {handler!r}."
            )
        for link in chain:
            _check_request_type(request_type, typing.cast("type[typing.Any]", link))
        return typing.cast("tuple[type[CORRequestHandler[typing.Any, typing.Any]], ...]", chain)
    if isinstance(handler, type) and issubclass(handler, HANDLER_BASES):
        handler_type = typing.cast("type[typing.Any]", handler)
        _check_request_type(request_type, handler_type)
        return handler_type
    raise InvalidBindingError(
        f"{request_type.__qualname__} cannot be bound to {handler!r}: expected a "
        f"RequestHandler subclass, a list of CORRequestHandlers or a RequestHandlerFallback."
    )


def _check_request_type(request_type: type[typing.Any], handler: type[typing.Any]) -> None:
    args = generic_args(handler, HANDLER_BASES)
    declared = args[0] if args else None
    if isinstance(declared, type) and not issubclass(request_type, declared):
        raise InvalidBindingError(
            f"{handler.__qualname__} handles {declared.__qualname__}, not "
            f"{request_type.__qualname__}; bind it to the type it declares."
        )
