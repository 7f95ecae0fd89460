"""The serialisation contract shared by requests, responses and events.

Every message converts to a JSON-safe dict with snake_case keys (UUIDs as
dashed strings, timestamps as ISO-8601 with a time zone) and back, whatever it
is declared with. Dataclasses go through pydantic's `TypeAdapter` so they get
the same wire shape as the pydantic models; adapters are built once per class.
"""

from __future__ import annotations

import abc
import functools
import typing

import pydantic
from typing_extensions import Self

__all__ = ("Serializable", "PydanticSerializable", "DataclassSerializable")


class Serializable(abc.ABC):
    """Converts to a JSON-safe dict and back: `cls.from_dict(**m.to_dict()) == m`."""

    __slots__ = ()

    @abc.abstractmethod
    def to_dict(self) -> dict[str, typing.Any]:
        """Return a JSON-safe dict with snake_case keys."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, **kwargs: typing.Any) -> Self:
        """Build an instance from the keyword arguments `to_dict` produced."""


class PydanticSerializable(pydantic.BaseModel, Serializable):
    """`Serializable` for pydantic models."""

    def to_dict(self) -> dict[str, typing.Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> Self:
        return cls.model_validate(kwargs)


@functools.cache
def _adapter(cls: type[typing.Any]) -> pydantic.TypeAdapter[typing.Any]:
    return pydantic.TypeAdapter(cls)


class DataclassSerializable(Serializable):
    """`Serializable` for stdlib dataclasses (subclasses add `@dataclasses.dataclass`)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, typing.Any]:
        return typing.cast(
            "dict[str, typing.Any]", _adapter(type(self)).dump_python(self, mode="json")
        )

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> Self:
        return typing.cast("Self", _adapter(cls).validate_python(kwargs))
