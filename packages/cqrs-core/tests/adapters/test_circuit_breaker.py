"""AioBreakerAdapter: one aiobreaker breaker per identifier."""

from __future__ import annotations

import datetime

import aiobreaker
import pytest
from aiobreaker.storage.memory import CircuitMemoryStorage

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter


class Flaky:
    """An async callable that fails while `failing` is set and counts its calls."""

    def __init__(self, failing: bool = True) -> None:
        self.failing = failing
        self.calls = 0

    async def __call__(self, value: int = 0) -> int:
        self.calls += 1
        if self.failing:
            raise ConnectionError("down")
        return value * 2


async def fail_times(breaker: AioBreakerAdapter, identifier: str, func: Flaky, times: int) -> None:
    for _ in range(times):
        with pytest.raises((ConnectionError, aiobreaker.CircuitBreakerError)):
            await breaker.call(identifier, func)


async def test_passes_arguments_and_returns_the_result() -> None:
    breaker = AioBreakerAdapter(fail_max=2)

    assert await breaker.call("handler", Flaky(failing=False), 21) == 42
    assert await breaker.call("handler", Flaky(failing=False), value=5) == 10


async def test_failures_below_fail_max_propagate_the_original_error() -> None:
    breaker = AioBreakerAdapter(fail_max=3)

    with pytest.raises(ConnectionError):
        await breaker.call("handler", Flaky())


async def test_opens_after_fail_max_failures_and_stops_calling() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=600)
    flaky = Flaky()
    await fail_times(breaker, "handler", flaky, 2)

    with pytest.raises(aiobreaker.CircuitBreakerError) as caught:
        await breaker.call("handler", flaky)

    assert flaky.calls == 2
    assert breaker.is_circuit_breaker_error(caught.value)


async def test_an_open_breaker_fails_fast_even_for_a_healthy_call() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=datetime.timedelta(minutes=10))
    await fail_times(breaker, "handler", Flaky(), 1)
    healthy = Flaky(failing=False)

    with pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call("handler", healthy)

    assert healthy.calls == 0


async def test_other_identifiers_are_unaffected() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=600)
    await fail_times(breaker, "broken", Flaky(), 2)
    healthy = Flaky(failing=False)

    assert await breaker.call("other", healthy, 4) == 8
    assert healthy.calls == 1


async def test_a_success_resets_the_failure_count() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=600)
    flaky = Flaky()
    await fail_times(breaker, "handler", flaky, 1)
    flaky.failing = False
    await breaker.call("handler", flaky)
    flaky.failing = True

    with pytest.raises(ConnectionError):
        await breaker.call("handler", flaky)


async def test_excluded_exceptions_do_not_count_as_failures() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=600, exclude=[ConnectionError])
    flaky = Flaky()

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call("handler", flaky)

    assert flaky.calls == 3


def test_is_circuit_breaker_error_tells_breaker_errors_from_call_errors() -> None:
    breaker = AioBreakerAdapter()

    reopen = datetime.datetime.now(datetime.timezone.utc)
    assert breaker.is_circuit_breaker_error(aiobreaker.CircuitBreakerError("open", reopen))
    assert not breaker.is_circuit_breaker_error(ConnectionError("down"))
    assert not breaker.is_circuit_breaker_error(RuntimeError("open"))


@pytest.mark.parametrize("fail_max", [0, -1])
def test_fail_max_below_one_is_rejected_as_a_configuration_error(fail_max: int) -> None:
    # Setup mistakes are ConfigurationErrors (cqrs/exceptions.py), like a zero
    # max_concurrent_event_handlers, so a service fails at start-up.
    with pytest.raises(cqrs.ConfigurationError, match="fail_max"):
        AioBreakerAdapter(fail_max=fail_max)


class ReserveStock:
    """Stands in for a saga step class, which python-cqrs passed as the identifier."""


async def test_a_class_identifier_is_counted_under_module_and_name() -> None:
    named: list[str] = []

    def storage_factory(name: str) -> CircuitMemoryStorage:
        named.append(name)
        return CircuitMemoryStorage(aiobreaker.CircuitBreakerState.CLOSED)

    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=600, storage_factory=storage_factory)
    flaky = Flaky()

    await fail_times(breaker, f"{__name__}.ReserveStock", flaky, 1)
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call(ReserveStock, flaky)  # the same breaker, open now

    assert named == [f"{__name__}.ReserveStock"]
    assert flaky.calls == 1
