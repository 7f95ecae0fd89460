"""`ConsumerRetry`: which failures are permanent or transient, judged through wrappers."""

from __future__ import annotations

import builtins

import pydantic
import pytest

from cqrs.consumer.retry import DEFAULT_PERMANENT, ConsumerRetry, wrapped_errors
from cqrs.exceptions import (
    ConfigurationError,
    EventHandlingError,
    EventTooLargeError,
    PermanentError,
    UndecodableRecordError,
)


class OutOfStock(PermanentError):
    pass


def caused(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def failed(*errors: BaseException) -> EventHandlingError:
    return EventHandlingError([(object(), object, error) for error in errors])


def validation_error() -> pydantic.ValidationError:
    class Line(pydantic.BaseModel):
        quantity: int

    with pytest.raises(pydantic.ValidationError) as raised:
        Line.model_validate({"quantity": "many"})
    return raised.value


def test_permanent_errors_are_found_where_they_are_wrapped() -> None:
    retry = ConsumerRetry()
    root = OutOfStock("sku-1")

    assert retry.permanent_error(root) is root
    assert retry.permanent_error(caused(RuntimeError("reserve failed"), root)) is root
    assert retry.permanent_error(failed(ValueError("other"), root)) is root
    assert retry.permanent_error(failed(caused(RuntimeError("x"), root))) is root
    assert retry.permanent_error(ValueError("odd")) is None


def test_validation_decoding_and_oversized_event_errors_are_permanent_by_default() -> None:
    retry = ConsumerRetry()
    error = validation_error()

    assert retry.permanent_error(error) is error
    assert retry.permanent_error(UndecodableRecordError("not JSON")) is not None
    assert retry.permanent_error(EventTooLargeError("order_placed", 2_000_000, 1_000_000))


def test_a_handlers_own_exception_with_the_report_attached_is_walked() -> None:
    # The event mediator may raise the first handler's own exception with the report
    # of every failure attached, instead of the EventHandlingError itself.
    first = RuntimeError("handler one failed")
    second = OutOfStock("sku-2")
    first.event_handling_error = failed(first, second)  # type: ignore[attr-defined]

    assert ConsumerRetry().permanent_error(first) is second


def test_a_report_raised_by_a_handler_is_walked_with_the_report_attached_to_it() -> None:
    root = OutOfStock("sku-4")
    raised = failed(root)  # a handler's own EventHandlingError...
    raised.event_handling_error = failed(raised)  # type: ignore[attr-defined]  # ...reported

    assert ConsumerRetry().permanent_error(raised) is root


def test_exception_groups_are_walked() -> None:
    group_type = getattr(builtins, "ExceptionGroup", None)  # built in from Python 3.11
    if group_type is None:
        pytest.skip("this Python has no exception groups")
    root = OutOfStock("sku-3")
    group = group_type("handlers failed", [ValueError("a"), group_type("inner", [root])])

    assert ConsumerRetry().permanent_error(group) is root


def test_transient_errors_are_found_where_they_are_wrapped() -> None:
    retry = ConsumerRetry(transient=(ConnectionError,))
    outage = caused(RuntimeError("the repository failed"), ConnectionRefusedError("db down"))

    assert retry.is_transient(outage)
    assert retry.is_transient(failed(outage))
    assert not retry.is_transient(ValueError("bad payload"))
    assert not ConsumerRetry(transient=()).is_transient(outage)


def test_permanent_types_are_configurable() -> None:
    retry = ConsumerRetry(permanent=(*DEFAULT_PERMANENT, LookupError))

    assert retry.permanent_error(KeyError("sku")) is not None
    assert ConsumerRetry(permanent=()).permanent_error(OutOfStock("sku")) is None


def test_a_cycle_of_causes_ends() -> None:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__cause__, second.__cause__ = second, first

    assert list(wrapped_errors(first)) == [first, second]


@pytest.mark.parametrize(
    "options", [{"attempts": 0}, {"initial_delay": -1.0}, {"max_delay": -1.0}, {"multiplier": 0.5}]
)
def test_a_retry_policy_that_cannot_work_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        ConsumerRetry(**options)  # type: ignore[arg-type]


def test_the_pauses_grow_up_to_the_maximum() -> None:
    retry = ConsumerRetry(attempts=6, initial_delay=0.1, multiplier=3.0, max_delay=1.0)

    assert [round(pause, 3) for pause in retry.delays()] == [0.1, 0.3, 0.9, 1.0, 1.0]
