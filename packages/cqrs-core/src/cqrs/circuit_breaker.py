"""The circuit breaker port used by fallbacks.

A breaker counts failures per identifier (a handler or step name) and, once
open, fails fast instead of calling. `cqrs.adapters.circuit_breaker` has the
aiobreaker-based implementation.
"""

from __future__ import annotations

import typing

__all__ = ("ICircuitBreaker",)

_T = typing.TypeVar("_T")


class ICircuitBreaker(typing.Protocol):
    """Runs calls through a breaker keyed by `identifier`."""

    async def call(
        self,
        identifier: str,
        func: typing.Callable[..., typing.Awaitable[_T]],
        *args: typing.Any,
        **kwargs: typing.Any,
    ) -> _T:
        """Await `func(*args, **kwargs)`; raise the breaker's error while it is open."""
        ...

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        """Tell whether `exc` is this breaker failing fast (not the call failing)."""
        ...
