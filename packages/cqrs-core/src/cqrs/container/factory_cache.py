"""A base for container adapters: work out how to build a type once, reuse it per call."""

from __future__ import annotations

import abc
import typing

__all__ = ("FactoryCachingContainer", "Factory")

_T = typing.TypeVar("_T")

Factory = typing.Callable[[], typing.Awaitable[typing.Any]]


class FactoryCachingContainer(abc.ABC):
    """Implements `Container.resolve` over a per-type factory built on first use."""

    __slots__ = ("_constructors", "_factories")

    def __init__(self) -> None:
        self._factories: dict[type[typing.Any], Factory] = {}
        # Types an adapter found it can build by a plain call: no coroutine needed.
        self._constructors: dict[type[typing.Any], typing.Callable[[], typing.Any]] = {}

    async def resolve(self, type_: type[_T], /) -> _T:
        """Return a new instance of `type_` from its cached factory."""
        constructor = self._constructors.get(type_)
        if constructor is not None:
            return constructor()  # the hot path: no cast call
        factory = self._factories.get(type_)
        if factory is None:
            factory = self._factories[type_] = self._build_factory(type_)
        return await factory()

    def _forget_factories(self) -> None:
        """Drop every cached factory (the wrapped container changed)."""
        self._factories.clear()
        self._constructors.clear()

    @abc.abstractmethod
    def _build_factory(self, type_: type[typing.Any]) -> Factory:
        """Return a coroutine function building `type_`; called once per type."""
