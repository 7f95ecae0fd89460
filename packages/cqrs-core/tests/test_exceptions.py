"""The error tree documented in cqrs/exceptions.py."""

from __future__ import annotations

import pytest

import cqrs
from cqrs import exceptions


class PlaceOrder(cqrs.Request[None]):
    pass


@pytest.mark.parametrize(
    ("error", "parent"),
    [
        (cqrs.ConfigurationError, cqrs.CQRSError),
        (cqrs.DuplicateBindingError, cqrs.ConfigurationError),
        (cqrs.InvalidBindingError, cqrs.ConfigurationError),
        (cqrs.FallbackTypeMismatchError, cqrs.ConfigurationError),
        (cqrs.RequestHandlerNotFoundError, cqrs.CQRSError),
        (cqrs.EventHandlingError, cqrs.CQRSError),
        (cqrs.MissingDependencyError, cqrs.CQRSError),
        (cqrs.MissingDependencyError, ImportError),
        (cqrs.CQRSError, Exception),
    ],
)
def test_documented_parent(error: type[BaseException], parent: type[BaseException]) -> None:
    assert issubclass(error, parent)


@pytest.mark.parametrize(
    "error",
    [cqrs.RequestHandlerNotFoundError, cqrs.EventHandlingError, cqrs.MissingDependencyError],
)
def test_runtime_failures_are_not_configuration_errors(error: type[BaseException]) -> None:
    assert not issubclass(error, cqrs.ConfigurationError)


def test_configuration_errors_are_siblings() -> None:
    kinds = [cqrs.DuplicateBindingError, cqrs.InvalidBindingError, cqrs.FallbackTypeMismatchError]

    for kind in kinds:
        assert [other for other in kinds if issubclass(kind, other)] == [kind]


def test_every_error_in_all_is_in_the_tree() -> None:
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), cqrs.CQRSError), name


def test_request_handler_not_found_names_the_type_and_how_to_bind_it() -> None:
    error = cqrs.RequestHandlerNotFoundError(PlaceOrder)

    message = str(error)
    assert error.request_type is PlaceOrder
    assert "PlaceOrder" in message
    assert "mapper.bind(PlaceOrder, PlaceOrderHandler)" in message
    assert "commands_mapper" in message


def test_request_handler_not_found_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        raise cqrs.RequestHandlerNotFoundError(PlaceOrder)


def test_event_handling_error_lists_each_failure() -> None:
    class Shipped(cqrs.DomainEvent):
        pass

    class Projection(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            pass

    event = Shipped()
    first, second = RuntimeError("a"), ValueError("b")

    error = cqrs.EventHandlingError([(event, Projection, first), (event, Projection, second)])

    assert error.failures == ((event, Projection, first), (event, Projection, second))
    assert str(error).startswith("2 event handler(s) failed")
    assert "Projection(Shipped): RuntimeError('a')" in str(error)
    assert "ValueError('b')" in str(error)


def test_missing_dependency_names_what_to_install() -> None:
    error = cqrs.MissingDependencyError("AioBreakerAdapter", "cqrs-core[aiobreaker]")

    assert "AioBreakerAdapter" in str(error)
    assert "pip install 'cqrs-core[aiobreaker]'" in str(error)
