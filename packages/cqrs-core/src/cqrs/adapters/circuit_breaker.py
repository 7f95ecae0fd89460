"""A circuit breaker on aiobreaker (extra `cqrs-core[aiobreaker]`).

One breaker per identifier, so each handler or saga step trips on its own;
an identifier may be a name or a class (counted as `module.Name`, as
python-cqrs did). Pass `storage_factory` to keep breaker state elsewhere, for
example in Redis with aiobreaker's `CircuitRedisStorage`, shared by all
instances; it is called once per breaker with the breaker's name. (Give
`CircuitRedisStorage` a `CircuitBreakerState`, not the string `"closed"`.)

>>> breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
"""

from __future__ import annotations

import datetime
import typing

from cqrs.circuit_breaker import breaker_name
from cqrs.exceptions import ConfigurationError, MissingDependencyError

try:
    import aiobreaker
    from aiobreaker.storage.base import CircuitBreakerStorage
except ImportError as _missing:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("AioBreakerAdapter", "cqrs-core[aiobreaker]") from _missing

__all__ = ("AioBreakerAdapter",)

_T = typing.TypeVar("_T")


class AioBreakerAdapter:
    """`ICircuitBreaker` on aiobreaker.

    `fail_max` consecutive failures open a breaker; after `timeout_duration`
    seconds it lets one trial call through. Exceptions in `exclude` do not
    count as failures (for example validation errors).
    """

    def __init__(
        self,
        fail_max: int = 5,
        timeout_duration: float | datetime.timedelta = 60,
        exclude: typing.Iterable[type[BaseException]] = (),
        storage_factory: typing.Callable[[str], CircuitBreakerStorage] | None = None,
    ) -> None:
        if fail_max < 1:
            raise ConfigurationError(f"fail_max must be at least 1, got {fail_max}.")
        self._fail_max = fail_max
        self._timeout = (
            timeout_duration
            if isinstance(timeout_duration, datetime.timedelta)
            else datetime.timedelta(seconds=timeout_duration)
        )
        self._exclude = list(exclude)
        self._storage_factory = storage_factory
        self._breakers: dict[str, aiobreaker.CircuitBreaker] = {}

    async def call(
        self,
        identifier: str | type[typing.Any],
        func: typing.Callable[..., typing.Awaitable[_T]],
        *args: typing.Any,
        **kwargs: typing.Any,
    ) -> _T:
        name = breaker_name(identifier)
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = self._new_breaker(name)
        coroutine_function = typing.cast(
            "typing.Callable[..., typing.Coroutine[typing.Any, typing.Any, _T]]", func
        )
        result: object = await breaker.call_async(coroutine_function, *args, **kwargs)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return typing.cast("_T", result)

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        return isinstance(exc, aiobreaker.CircuitBreakerError)

    def _new_breaker(self, identifier: str) -> aiobreaker.CircuitBreaker:
        storage = self._storage_factory(identifier) if self._storage_factory else None
        return aiobreaker.CircuitBreaker(
            fail_max=self._fail_max,
            timeout_duration=self._timeout,
            exclude=self._exclude,
            state_storage=storage,
            name=identifier,
        )
