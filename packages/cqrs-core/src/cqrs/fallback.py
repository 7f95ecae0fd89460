"""Run a primary call and switch to a fallback when it fails or its breaker is open.

Shared by `RequestHandlerFallback`, `EventHandlerFallback` and saga fallbacks.
"""

from __future__ import annotations

import logging
import typing

from cqrs._generics import generic_args
from cqrs.circuit_breaker import ICircuitBreaker, breaker_name
from cqrs.exceptions import FallbackTypeMismatchError, InvalidBindingError

__all__ = ("call_with_fallback", "HandlerFallback")

logger: logging.Logger = logging.getLogger("cqrs.fallback")

_T = typing.TypeVar("_T")


async def call_with_fallback(
    identifier: str,
    primary: typing.Callable[[], typing.Awaitable[_T]],
    fallback: typing.Callable[[], typing.Awaitable[_T]],
    failure_exceptions: tuple[type[BaseException], ...] = (),
    circuit_breaker: ICircuitBreaker | None = None,
) -> _T:
    """Await `primary()`; on a failure, await `fallback()` instead.

    A failure is any `Exception` when `failure_exceptions` is empty, otherwise
    only those types; other exceptions propagate. An open breaker always
    counts as a failure.
    """
    try:
        if circuit_breaker is None:
            return await primary()
        outcome = await circuit_breaker.call(
            identifier, _passing_through, primary, failure_exceptions
        )
    except Exception as exc:
        tripped = circuit_breaker is not None and circuit_breaker.is_circuit_breaker_error(exc)
        if not tripped and failure_exceptions and not isinstance(exc, failure_exceptions):
            raise
        logger.warning("%s failed (%r); running its fallback", identifier, exc)
        return await fallback()
    if isinstance(outcome, _NotAFailure):
        raise outcome.error
    return outcome


class _NotAFailure:
    """An exception outside `failure_exceptions`, carried past the breaker.

    The breaker must neither count it as a failure nor swap it for its own
    error when it trips, so the call returns it and it is raised afterwards.
    """

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


async def _passing_through(
    primary: typing.Callable[[], typing.Awaitable[_T]],
    failure_exceptions: tuple[type[BaseException], ...],
) -> _T | _NotAFailure:
    try:
        return await primary()
    except Exception as exc:
        if failure_exceptions and not isinstance(exc, failure_exceptions):
            return _NotAFailure(exc)
        raise


class HandlerFallback:
    """A primary handler class with a fallback class for the same message types.

    Subclasses name the handler bases they accept in `handler_bases`.
    """

    handler_bases: typing.ClassVar[tuple[type[typing.Any], ...]] = ()

    def __init__(
        self,
        primary: type[typing.Any],
        fallback: type[typing.Any],
        failure_exceptions: tuple[type[BaseException], ...] = (),
        circuit_breaker: ICircuitBreaker | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.failure_exceptions: tuple[type[BaseException], ...] = tuple(failure_exceptions)
        self.circuit_breaker = circuit_breaker
        self._check_types()

    @property
    def identifier(self) -> str:
        """The name the circuit breaker counts failures under (see `breaker_name`)."""
        return breaker_name(self.primary)

    def _check_types(self) -> None:
        kind = type(self).__name__
        for role, handler in (("primary", self.primary), ("fallback", self.fallback)):
            if not (isinstance(handler, type) and issubclass(handler, self.handler_bases)):
                names = " or ".join(base.__name__ for base in self.handler_bases)
                raise InvalidBindingError(
                    f"{kind} {role} must be a subclass of {names}, got {handler!r}."
                )
        primary_types = generic_args(self.primary, self.handler_bases)
        fallback_types = generic_args(self.fallback, self.handler_bases)
        if primary_types != fallback_types:
            raise FallbackTypeMismatchError(
                f"{kind}: primary {self.primary.__qualname__} handles {primary_types} but "
                f"fallback {self.fallback.__qualname__} handles {fallback_types}; a fallback "
                f"must take the same message type and return the same response type."
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(primary={self.primary.__qualname__}, "
            f"fallback={self.fallback.__qualname__})"
        )
