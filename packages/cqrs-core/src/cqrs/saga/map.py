"""`SagaMap`: which saga runs for which context type.

>>> import dataclasses
>>> class OrderContext:
...     pass
>>> class OrderSaga:
...     pass
>>> mapper = SagaMap()
>>> mapper.bind(OrderContext, OrderSaga)
>>> mapper.get(OrderContext)
<class 'cqrs.saga.map.OrderSaga'>
"""

from __future__ import annotations

import typing

from cqrs.exceptions import DuplicateBindingError, InvalidBindingError

__all__ = ("SagaMap",)


class SagaMap:
    """Saga context type -> saga class; each context type is bound once."""

    def __init__(self) -> None:
        self._bindings: dict[type[typing.Any], type[typing.Any]] = {}

    def bind(self, context_type: type[typing.Any], saga_type: type[typing.Any]) -> None:
        """Bind `context_type` to `saga_type`; raise `DuplicateBindingError` if bound."""
        if not isinstance(context_type, type) or not isinstance(saga_type, type):
            raise InvalidBindingError(
                f"bind() takes a context class and a saga class, got "
                f"{context_type!r} and {saga_type!r}."
            )
        if context_type in self._bindings:
            raise DuplicateBindingError(
                f"{context_type.__qualname__} is already bound to "
                f"{self._bindings[context_type].__qualname__}; one saga per context type."
            )
        self._bindings[context_type] = saga_type

    def get(self, context_type: type[typing.Any]) -> type[typing.Any] | None:
        """The saga class bound to `context_type`, or `None`."""
        return self._bindings.get(context_type)

    def items(self) -> typing.ItemsView[type[typing.Any], type[typing.Any]]:
        """All bindings, in the order they were made."""
        return self._bindings.items()

    def __contains__(self, context_type: object) -> bool:
        return context_type in self._bindings

    def __len__(self) -> int:
        return len(self._bindings)
