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
import re
import typing
from collections.abc import Sequence

import pydantic

from cqrs._generics import generic_args
from cqrs.exceptions import InvalidBindingError
from cqrs.requests.cor_request_handler import CORRequestHandler

__all__ = ("CoRMermaid",)

_HandlerClass = type[CORRequestHandler[typing.Any, typing.Any]]

_INDENT = "    "

# Words the Mermaid lexers take as keywords wherever a name is expected; the
# sequence lexer ignores case, so `End` or `Details` would break a diagram too.
# fmt: off
_KEYWORDS = frozenset({
    "accdescr", "acctitle", "activate", "actor", "alt", "and", "as", "autonumber", "box",
    "break", "call", "callback", "class", "classdef", "classdiagram", "click", "create",
    "critical", "cssclass", "deactivate", "destroy", "details", "else", "end", "href", "link",
    "links", "loop", "namespace", "note", "o", "off", "opt", "option", "over", "par",
    "par_over", "participant", "properties", "rect", "sequencediagram", "style", "title",
    "_blank", "_parent", "_self", "_top",
})
# fmt: on

# Both lexers accept ASCII names everywhere but only some Unicode ranges.
_NOT_ID_CHAR = re.compile(r"[^0-9A-Za-z_]")
# Member lines end at a brace or newline, and `~` opens a Mermaid generic.
_NOT_MEMBER_CHAR = re.compile(r"[{}~\n]")
# `#` starts an entity code and `;` ends a statement in a sequence message.
_NOT_MESSAGE_CHAR = re.compile(r"[#;]")
# `typing.Optional[uuid.UUID]` reads better as `Optional[UUID]`.
# (Not inside a quoted literal, where the dots are data.)
_MODULE_PATH = re.compile(r"(?<![\w.'\"])(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])")

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
        self._ids = _Ids()
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
            f"{_INDENT}actor {client}",
            *(f"{_INDENT}participant {self._ids[handler]}" for handler in self._handlers()),
            f"{_INDENT}{client}->>{self._ids[first.handler]}: {self._label(first.request)}",
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
        outer, inner = _INDENT * depth, _INDENT * (depth + 1)
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
        return [
            f"{_INDENT}class {self._ids[handler]} {{",
            f"{_INDENT * 2}+handle(request)",
            f"{_INDENT * 2}+next(request)",
            f"{_INDENT}}}",
        ]

    def _message_class(self, message: type[object]) -> list[str]:
        name = self._ids[message]
        members = [f"{_INDENT * 2}+{field}: {label}" for field, label in _fields(message)]
        if not members:
            return [f"{_INDENT}class {name}"]
        return [f"{_INDENT}class {name} {{", *members, f"{_INDENT}}}"]

    def _next_edges(self) -> list[str]:
        return [
            f"{_INDENT}{self._ids[current.handler]} --> {self._ids[following.handler]} : next"
            for current, following in zip(self._links, self._links[1:], strict=False)
        ]

    def _dependency_edges(self) -> list[str]:
        edges: list[str] = []
        for link in self._links:
            name = self._ids[link.handler]
            if _is_message_class(link.request):
                edges.append(f"{_INDENT}{name} ..> {self._ids[link.request]} : handles")
            if _is_message_class(link.response):
                edges.append(f"{_INDENT}{name} ..> {self._ids[link.response]} : returns")
        return edges

    def _handlers(self) -> list[_HandlerClass]:
        # A class may sit twice in a chain; it is still one participant or class.
        return list(dict.fromkeys(link.handler for link in self._links))

    def _message_types(self) -> list[type[object]]:
        candidates = (kind for link in self._links for kind in (link.request, link.response))
        return list(dict.fromkeys(kind for kind in candidates if _is_message_class(kind)))

    def _label(self, message_type: object, or_none: bool = False) -> str:
        if message_type is type(None):
            return "None"
        if _is_message_class(message_type):
            label = self._ids[message_type]
        else:
            # A TypeVar or an alias: say what it is, minus the characters that
            # end a sequence message.
            label = _NOT_MESSAGE_CHAR.sub("", _type_label(message_type))
        return f"{label} | None" if or_none else label


class _Ids:
    """Mermaid identifiers for Python objects: unique, ASCII and never a keyword."""

    def __init__(self) -> None:
        self._ids: dict[object, str] = {}

    def add(self, key: object, name: str) -> None:
        if key in self._ids:
            return
        base = _NOT_ID_CHAR.sub("_", name)
        if not base or base[0].isdigit():
            base = f"_{base}"
        taken = set(self._ids.values())
        candidate, number = base, 1
        while candidate in taken or candidate.lower() in _KEYWORDS:
            number += 1
            candidate = f"{base}_{number}"
        self._ids[key] = candidate

    def __getitem__(self, key: object) -> str:
        return self._ids[key]


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


def _is_message_class(candidate: object) -> typing.TypeGuard[type[object]]:
    # `list[int]` passes `isinstance(..., type)` on Python 3.10, hence the origin check.
    return (
        isinstance(candidate, type)
        and typing.get_origin(candidate) is None
        and candidate is not type(None)
    )


def _fields(message: type[object]) -> list[tuple[str, str]]:
    if issubclass(message, pydantic.BaseModel):
        return [(name, _type_label(info.annotation)) for name, info in message.model_fields.items()]
    if dataclasses.is_dataclass(message):
        return [(field.name, _type_label(field.type)) for field in dataclasses.fields(message)]
    return []


def _type_label(annotation: object) -> str:
    if isinstance(annotation, str):
        # A dataclass field under `from __future__ import annotations`.
        text = annotation
    elif isinstance(annotation, typing.ForwardRef):
        text = annotation.__forward_arg__
    elif _is_message_class(annotation):
        text = annotation.__name__
    else:
        text = _MODULE_PATH.sub("", str(annotation))
    return _NOT_MEMBER_CHAR.sub("", text)
