"""Requests: commands and queries, each handled by exactly one handler.

Three ways to declare one, all equivalent to the mediator:

* `Request`, a pydantic model (the default);
* `DCRequest`, a dataclass;
* any class implementing `IRequest` (`to_dict` and `from_dict`).

A request may name its response type, `class GetUser(Request[UserDto])`, so a
type checker knows what `mediator.send(GetUser(...))` returns.

>>> class CreateUser(Request):
...     email: str
>>> CreateUser.from_dict(**CreateUser(email="a@b.c").to_dict())
CreateUser(email='a@b.c')
"""

from __future__ import annotations

import dataclasses
import typing

from typing_extensions import TypeVar

from cqrs._message import DataclassSerializable, PydanticSerializable, Serializable

__all__ = ("IRequest", "Request", "PydanticRequest", "DCRequest")

ResponseT = TypeVar("ResponseT", default=typing.Any, covariant=True)


class IRequest(Serializable, typing.Generic[ResponseT]):
    """The interface every request implements.

    The type parameter is the response its handler returns; it only informs
    type checkers and may be omitted.
    """

    __slots__ = ()


class Request(PydanticSerializable, IRequest[ResponseT], typing.Generic[ResponseT]):
    """A request declared as a pydantic model; fields are validated on creation."""


PydanticRequest = Request


@dataclasses.dataclass
class DCRequest(DataclassSerializable, IRequest[ResponseT]):
    """A request declared as a dataclass (subclasses add `@dataclasses.dataclass`)."""
