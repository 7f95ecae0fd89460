"""SagaMap: one saga per context type."""

from __future__ import annotations

import pytest

import cqrs


class OrderContext:
    pass


class RefundContext:
    pass


class OrderSaga:
    pass


class OtherOrderSaga:
    pass


def test_bind_then_get_returns_the_saga() -> None:
    mapper = cqrs.SagaMap()

    mapper.bind(OrderContext, OrderSaga)

    assert mapper.get(OrderContext) is OrderSaga
    assert OrderContext in mapper
    assert len(mapper) == 1


def test_get_of_an_unbound_context_is_none() -> None:
    mapper = cqrs.SagaMap()
    mapper.bind(OrderContext, OrderSaga)

    assert mapper.get(RefundContext) is None
    assert RefundContext not in mapper


def test_binding_a_context_twice_raises_duplicate_binding() -> None:
    mapper = cqrs.SagaMap()
    mapper.bind(OrderContext, OrderSaga)

    with pytest.raises(cqrs.DuplicateBindingError, match="OrderContext"):
        mapper.bind(OrderContext, OtherOrderSaga)

    assert mapper.get(OrderContext) is OrderSaga


def test_binding_the_same_pair_twice_also_raises() -> None:
    mapper = cqrs.SagaMap()
    mapper.bind(OrderContext, OrderSaga)

    with pytest.raises(cqrs.DuplicateBindingError):
        mapper.bind(OrderContext, OrderSaga)


def test_one_saga_may_serve_two_context_types() -> None:
    mapper = cqrs.SagaMap()

    mapper.bind(OrderContext, OrderSaga)
    mapper.bind(RefundContext, OrderSaga)

    assert list(mapper.items()) == [(OrderContext, OrderSaga), (RefundContext, OrderSaga)]


@pytest.mark.parametrize(
    ("context", "saga"),
    [(OrderContext(), OrderSaga), (OrderContext, OrderSaga())],
    ids=["context instance", "saga instance"],
)
def test_non_classes_raise_invalid_binding(context: object, saga: object) -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        cqrs.SagaMap().bind(context, saga)  # type: ignore[arg-type]


def test_maps_are_independent() -> None:
    first, second = cqrs.SagaMap(), cqrs.SagaMap()

    first.bind(OrderContext, OrderSaga)

    assert second.get(OrderContext) is None
