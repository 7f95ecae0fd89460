"""`CoRMermaid`: draw a chain of `CORRequestHandler`s as Mermaid diagrams.

`sequence()` shows how a request travels down the chain until a link answers;
`class_diagram()` shows the links, the request and response classes and how
they relate. Paste either into any Mermaid renderer (GitHub, GitLab, mkdocs).

>>> from cqrs.requests.request import Request
>>> from cqrs.response import Response
>>> class Ping(Request):
...     pass
>>> class Pong(Response):
...     pass
>>> class CacheHandler(CORRequestHandler[Ping, Pong]):
...     async def handle(self, request: Ping) -> Pong | None:
...         return await self.next(request)
>>> class BackendHandler(CORRequestHandler[Ping, Pong]):
...     async def handle(self, request: Ping) -> Pong | None:
...         return Pong()
>>> print(CoRMermaid([CacheHandler, BackendHandler]).sequence())
sequenceDiagram
    actor Client
    participant CacheHandler
    participant BackendHandler
    Client->>CacheHandler: Ping
    alt CacheHandler handles it
        CacheHandler-->>Client: Pong
    else passes it on
        CacheHandler->>BackendHandler: next(request)
        alt BackendHandler handles it
            BackendHandler-->>CacheHandler: Pong
        else end of chain
            BackendHandler-->>CacheHandler: None
        end
        CacheHandler-->>Client: Pong | None
    end
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence

from cqrs._generics import generic_args
from cqrs._mermaid import (
    INDENT,
    Ids,
    class_block,
    class_fields,
    is_message_class,
    message_label,
)
from cqrs.exceptions import InvalidBindingError
from cqrs.requests.cor_request_handler import CORRequestHandler

__all__ = ("CoRMermaid",)

_HandlerClass = type[CORRequestHandler[typing.Any, typing.Any]]

_CLIENT = object()


@dataclasses.dataclass(frozen=True)
class _Link:
    handler: _HandlerClass
    request: object
    response: object


class CoRMermaid:
    """Mermaid source for a chain of `CORRequestHandler` classes, in chain order.

    Raises `InvalidBindingError` unless `handlers` is a non-empty list of
    `CORRequestHandler` subclasses, like the list bound in a `RequestMap`.
    """

    def __init__(self, handlers: Sequence[_HandlerClass]) -> None:
        self._links = tuple(_link(handler) for handler in _checked(handlers))
        self._ids = Ids()
        # First, so that the caller is always `Client` and a handler of that name yields.
        self._ids.add(_CLIENT, "Client")
        for link in self._links:
            self._ids.add(link.handler, link.handler.__name__)
        for message_type in self._message_types():
            self._ids.add(message_type, message_type.__name__)

    def sequence(self) -> str:
        """A `sequenceDiagram`: each link answers or passes the request on."""
        client = self._ids[_CLIENT]
        first = self._links[0]
        lines = [
            "sequenceDiagram",
            f"{INDENT}actor {client}",
            *(f"{INDENT}participant {self._ids[handler]}" for handler in self._handlers()),
            f"{INDENT}{client}->>{self._ids[first.handler]}: {self._label(first.request)}",
            *self._attempt_lines(0, caller=client, depth=1),
        ]
        return "\n".join(lines)

    def class_diagram(self) -> str:
        """A `classDiagram`: the links, `next` edges in chain order, request and response."""
        lines = [
            "classDiagram",
            *(line for handler in self._handlers() for line in self._handler_class(handler)),
            *(line for message in self._message_types() for line in self._message_class(message)),
            *dict.fromkeys(self._next_edges()),
            *dict.fromkeys(self._dependency_edges()),
        ]
        return "\n".join(lines)

    def _attempt_lines(self, index: int, caller: str, depth: int) -> list[str]:
        # `handle` returns to whoever called it: the client for the first link,
        # the previous link (inside its `await self.next(...)`) for the others.
        link = self._links[index]
        name = self._ids[link.handler]
        outer, inner = INDENT * depth, INDENT * (depth + 1)
        answered = [
            f"{outer}alt {name} handles it",
            f"{inner}{name}-->>{caller}: {self._label(link.response)}",
        ]
        if index == len(self._links) - 1:
            return [
                *answered,
                f"{outer}else end of chain",
                f"{inner}{name}-->>{caller}: None",
                f"{outer}end",
            ]
        following = self._ids[self._links[index + 1].handler]
        return [
            *answered,
            f"{outer}else passes it on",
            f"{inner}{name}->>{following}: next(request)",
            *self._attempt_lines(index + 1, caller=name, depth=depth + 1),
            f"{inner}{name}-->>{caller}: {self._label(link.response, or_none=True)}",
            f"{outer}end",
        ]

    def _handler_class(self, handler: _HandlerClass) -> list[str]:
        return class_block(self._ids[handler], ["+handle(request)", "+next(request)"])

    def _message_class(self, message: type[object]) -> list[str]:
        members = [f"+{field}: {label}" for field, label in class_fields(message)]
        return class_block(self._ids[message], members)

    def _next_edges(self) -> list[str]:
        return [
            f"{INDENT}{self._ids[current.handler]} --> {self._ids[following.handler]} : next"
            for current, following in zip(self._links, self._links[1:], strict=False)
        ]

    def _dependency_edges(self) -> list[str]:
        edges: list[str] = []
        for link in self._links:
            name = self._ids[link.handler]
            if is_message_class(link.request):
                edges.append(f"{INDENT}{name} ..> {self._ids[link.request]} : handles")
            if is_message_class(link.response):
                edges.append(f"{INDENT}{name} ..> {self._ids[link.response]} : returns")
        return edges

    def _handlers(self) -> list[_HandlerClass]:
        # A class may sit twice in a chain; it is still one participant or class.
        return list(dict.fromkeys(link.handler for link in self._links))

    def _message_types(self) -> list[type[object]]:
        candidates = (kind for link in self._links for kind in (link.request, link.response))
        return list(dict.fromkeys(kind for kind in candidates if is_message_class(kind)))

    def _label(self, message_type: object, or_none: bool = False) -> str:
        label = message_label(self._ids, message_type)
        if message_type is type(None) or not or_none:
            return label
        return f"{label} | None"


def _checked(handlers: object) -> tuple[_HandlerClass, ...]:
    hint = (
        "CoRMermaid takes a non-empty list of CORRequestHandler subclasses, in chain "
        "order (the classes, not instances), e.g. CoRMermaid([CardHandler, BankHandler])"
    )
    if isinstance(handlers, (str, bytes)) or not isinstance(handlers, Sequence):
        raise InvalidBindingError(f"{hint}; got {handlers!r}.")
    chain = tuple(typing.cast("Sequence[object]", handlers))
    if not chain:
        raise InvalidBindingError(f"{hint}; got an empty list.")
    for handler in chain:
        if not (isinstance(handler, type) and issubclass(handler, CORRequestHandler)):
            raise InvalidBindingError(f"{hint}; got {handler!r} in {handlers!r}.")
    return typing.cast("tuple[_HandlerClass, ...]", chain)


def _link(handler: _HandlerClass) -> _Link:
    # A handler that does not parametrise CORRequestHandler is still drawn,
    # with placeholder message names.
    args = generic_args(handler, CORRequestHandler) or ()
    request = args[0] if len(args) > 0 else "request"
    response = args[1] if len(args) > 1 else "response"
    return _Link(handler, request, response)
