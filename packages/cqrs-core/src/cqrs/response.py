"""Responses returned by request handlers.

Mirrors `cqrs.requests.request`: `Response` (pydantic, the default),
`DCResponse` (dataclass) and the `IResponse` interface for anything else.

>>> class UserDto(Response):
...     user_id: str
>>> UserDto(user_id="u1").to_dict()
{'user_id': 'u1'}
"""

from __future__ import annotations

import dataclasses

from cqrs._message import DataclassSerializable, PydanticSerializable, Serializable

__all__ = ("IResponse", "Response", "PydanticResponse", "DCResponse")


class IResponse(Serializable):
    """The interface every response implements."""

    __slots__ = ()


class Response(PydanticSerializable, IResponse):
    """A response declared as a pydantic model."""


PydanticResponse = Response


@dataclasses.dataclass
class DCResponse(DataclassSerializable, IResponse):
    """A response declared as a dataclass (subclasses add `@dataclasses.dataclass`)."""
