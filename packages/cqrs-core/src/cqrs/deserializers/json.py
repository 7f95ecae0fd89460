"""`JsonDeserializer`: JSON bytes or text to a message class, through its `from_dict`."""

from __future__ import annotations

import dataclasses
import json
import logging
import typing

from typing_extensions import Self

__all__ = ("JsonDeserializer", "DeserializeJsonError")

logger = logging.getLogger("cqrs.deserializers")


class _FromDict(typing.Protocol):
    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> Self: ...


_T = typing.TypeVar("_T", bound=_FromDict)


@dataclasses.dataclass(frozen=True)
class DeserializeJsonError:
    """Why a record could not be deserialized: a value to inspect, not raised."""

    error_message: str
    error_type: type[Exception]
    message_data: str | bytes | None


class JsonDeserializer(typing.Generic[_T]):
    """Builds `model` from a JSON object, with `model.from_dict(**object)`."""

    def __init__(self, model: type[_T]) -> None:
        self._model = model

    def __call__(self, data: str | bytes | None) -> _T | DeserializeJsonError | None:
        """The message, `None` when `data` is `None`, or the error that stopped it."""
        if data is None:
            return None
        try:
            fields = json.loads(data)
            if not isinstance(fields, dict):
                raise TypeError(f"expected a JSON object, got {type(fields).__name__}")
            return self._model.from_dict(**typing.cast(dict[str, typing.Any], fields))
        except Exception as exc:
            logger.warning("could not deserialize a JSON message: %s", exc)
            return DeserializeJsonError(str(exc), type(exc), data)
