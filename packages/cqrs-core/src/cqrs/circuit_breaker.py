"""The circuit breaker port used by fallbacks.

A breaker counts failures per identifier (a handler or step name) and, once
open, fails fast instead of calling. `cqrs.adapters.circuit_breaker` has the
aiobreaker-based implementation.
"""

from __future__ import annotations

import typing

__all__ = ("ICircuitBreaker", "breaker_name")

_T = typing.TypeVar("_T")


def breaker_name(identifier: str | type[typing.Any]) -> str:
    """The name a breaker counts under: `identifier` itself, or a class's `module.Name`.

    >>> breaker_name(ValueError)
    'builtins.ValueError'
    """
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"


class ICircuitBreaker(typing.Protocol):
    """Runs calls through a breaker keyed by `identifier`."""

    async def call(
        self,
        identifier: str | type[typing.Any],
        func: typing.Callable[..., typing.Awaitable[_T]],
        *args: typing.Any,
        **kwargs: typing.Any,
    ) -> _T:
        """Await `func(*args, **kwargs)`; raise the breaker's error while it is open.

        `identifier` is a name, or a class counted under its `breaker_name`
        (python-cqrs passed the step class).
        """
        ...

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        """Tell whether `exc` is this breaker failing fast (not the call failing)."""
        ...
