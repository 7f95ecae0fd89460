"""Decorator-style registration, an alternative to writing mapper functions.

Decorate handlers where they are defined; the registry infers what each one
handles from its generic base (or `handle`'s annotation), and its `requests`
and `events` methods are mappers to pass to bootstrap.

>>> import asyncio
>>> from cqrs.requests.bootstrap import bootstrap
>>> from cqrs.requests.request import Request
>>> from cqrs.requests.request_handler import RequestHandler
>>> handlers = HandlerRegistry()
>>> class Ping(Request[str]):
...     pass
>>> @handlers.request_handler
... class PingHandler(RequestHandler[Ping, str]):
...     async def handle(self, request: Ping) -> str:
...         return "pong"
>>> mediator = bootstrap(commands_mapper=handlers.requests)
>>> asyncio.run(mediator.send(Ping()))
'pong'
"""

from __future__ import annotations

import typing

from cqrs._generics import generic_args
from cqrs.events.event_handler import EventHandler, SyncEventHandler
from cqrs.events.map import EventMap
from cqrs.exceptions import InvalidBindingError
from cqrs.requests.map import HANDLER_BASES, RequestMap

__all__ = ("HandlerRegistry",)

_H = typing.TypeVar("_H", bound=type[typing.Any])


class HandlerRegistry:
    """Collects handlers registered with its decorators."""

    def __init__(self) -> None:
        self._requests: list[tuple[type[typing.Any], type[typing.Any]]] = []
        self._events: list[tuple[type[typing.Any], type[typing.Any]]] = []

    @typing.overload
    def request_handler(self, handler: _H, /) -> _H: ...
    @typing.overload
    def request_handler(self, /, *, request: type[typing.Any]) -> typing.Callable[[_H], _H]: ...
    def request_handler(
        self, handler: _H | None = None, /, *, request: type[typing.Any] | None = None
    ) -> _H | typing.Callable[[_H], _H]:
        """Register a request handler, for its declared request type or `request`."""

        def register(cls: _H) -> _H:
            self._requests.append((request or _handled_type(cls, HANDLER_BASES), cls))
            return cls

        return register(handler) if handler is not None else register

    @typing.overload
    def event_handler(self, handler: _H, /) -> _H: ...
    @typing.overload
    def event_handler(self, /, *, event: type[typing.Any]) -> typing.Callable[[_H], _H]: ...
    def event_handler(
        self, handler: _H | None = None, /, *, event: type[typing.Any] | None = None
    ) -> _H | typing.Callable[[_H], _H]:
        """Register an event handler, for its declared event type or `event`."""

        def register(cls: _H) -> _H:
            self._events.append(
                (event or _handled_type(cls, (EventHandler, SyncEventHandler)), cls)
            )
            return cls

        return register(handler) if handler is not None else register

    def requests(self, mapper: RequestMap) -> None:
        """Bind every registered request handler; pass as `commands_mapper`."""
        for request_type, handler in self._requests:
            mapper.bind(request_type, handler)

    def events(self, mapper: EventMap) -> None:
        """Bind every registered event handler; pass as `domain_events_mapper`/`events_mapper`."""
        for event_type, handler in self._events:
            mapper.bind(event_type, handler)


def _handled_type(cls: type[typing.Any], bases: tuple[type[typing.Any], ...]) -> type[typing.Any]:
    args = generic_args(cls, bases) if isinstance(cls, type) else None
    declared = args[0] if args else None
    if isinstance(declared, type):
        return declared
    hints = typing.get_type_hints(cls.handle) if hasattr(cls, "handle") else {}
    annotated = next((hint for name, hint in hints.items() if name != "return"), None)
    if isinstance(annotated, type):
        return annotated
    raise InvalidBindingError(
        f"cannot tell what {getattr(cls, '__qualname__', cls)!r} handles: parametrise its "
        f"base (e.g. RequestHandler[MyRequest, MyResponse]), annotate handle(), or pass "
        f"the type to the decorator."
    )
