"""The error tree drawn in cqrs/exceptions.py, and what the errors say."""

from __future__ import annotations

import pytest

import cqrs
from cqrs import exceptions
from cqrs.testing.error_tree import error_tree_problems


class PlaceOrder(cqrs.Request[None]):
    pass


def test_the_tree_in_the_docstring_draws_every_error_as_it_is() -> None:
    assert error_tree_problems(exceptions, "cqrs") == []


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
