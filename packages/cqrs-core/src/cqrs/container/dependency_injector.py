"""Adapter for the `dependency-injector` library (extra `cqrs-core[dependency-injector]`).

Types are resolved by what the container's providers provide: the provider
whose class is the requested type (or its subclass) is called. A class no
provider offers, typically a handler, is built by resolving each constructor
parameter by its annotation.

>>> import asyncio
>>> from dependency_injector import containers, providers
>>> class Greeter:
...     pass
>>> class App(containers.DeclarativeContainer):
...     greeter = providers.Factory(Greeter)
>>> adapter = DependencyInjectorCQRSContainer(App())
>>> isinstance(asyncio.run(adapter.resolve(Greeter)), Greeter)
True

python-cqrs's form works too: create it empty and attach the container.

>>> adapter = DependencyInjectorCQRSContainer()
>>> adapter.attach_external_container(App())
>>> isinstance(asyncio.run(adapter.resolve(Greeter)), Greeter)
True
"""

from __future__ import annotations

import inspect
import typing

from cqrs.container.factory_cache import Factory, FactoryCachingContainer
from cqrs.exceptions import ConfigurationError, MissingDependencyError

try:
    from dependency_injector import containers, providers
except ImportError as _missing:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError(
        "cqrs.container.dependency_injector", "cqrs-core[dependency-injector]"
    ) from _missing

__all__ = ("DependencyInjectorCQRSContainer",)


class DependencyInjectorCQRSContainer(FactoryCachingContainer):
    """`cqrs.container.Container` over a dependency-injector container."""

    def __init__(self, container: containers.Container | None = None) -> None:
        super().__init__()
        self._container = container

    @property
    def container(self) -> containers.Container:
        """The wrapped dependency-injector container."""
        return self._attached()

    @property
    def external_container(self) -> containers.Container:
        """The wrapped container (python-cqrs's name for `container`)."""
        return self._attached()

    def attach_external_container(self, container: containers.Container) -> None:
        """Wrap `container` from now on (python-cqrs's way to set it after creation)."""
        self._container = container
        self._forget_factories()

    def _attached(self) -> containers.Container:
        if self._container is None:
            raise ConfigurationError(
                "DependencyInjectorCQRSContainer has no container yet: pass one to the "
                "constructor or call attach_external_container(container) first."
            )
        return self._container

    def _build_factory(self, type_: type[typing.Any]) -> Factory:
        provider = self._provider_for(type_)
        if provider is not None:
            found = provider

            async def provide() -> typing.Any:
                value = found()
                return await value if inspect.isawaitable(value) else value

            return provide
        if (
            inspect.isabstract(type_)
            or not inspect.isclass(type_)
            or getattr(type_, "_is_protocol", False)
        ):
            raise ConfigurationError(
                f"No provider in {type(self._attached()).__name__} provides {type_!r}; "
                f"add one, e.g. `providers.Factory(SomeImplementation)`."
            )
        return self._constructor_factory(type_)

    def _provider_for(self, type_: type[typing.Any]) -> providers.Provider[typing.Any] | None:
        fallback: providers.Provider[typing.Any] | None = None
        found: typing.Iterable[providers.Provider[typing.Any]] = self._attached().traverse()
        for provider in found:
            provides = getattr(provider, "provides", None)
            if provides is type_:
                return provider
            if fallback is None and inspect.isclass(provides) and _is_subclass(provides, type_):
                fallback = provider
        return fallback

    def _constructor_factory(self, type_: type[typing.Any]) -> Factory:
        hints = typing.get_type_hints(type_.__init__)
        names = [
            name
            for name, param in inspect.signature(type_.__init__).parameters.items()
            if name != "self"
            and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
            and param.default is param.empty
        ]
        missing = [name for name in names if name not in hints]
        if missing:
            raise ConfigurationError(
                f"{type_.__qualname__}.__init__ parameters {missing} have no type "
                f"annotation, so they cannot be resolved; annotate them."
            )
        params = [(name, hints[name]) for name in names]

        async def construct() -> typing.Any:
            kwargs = {name: await self.resolve(hint) for name, hint in params}
            return type_(**kwargs)

        return construct


def _is_subclass(candidate: type[typing.Any], type_: type[typing.Any]) -> bool:
    # A plain (not runtime-checkable) Protocol refuses issubclass; only a
    # provider of exactly that type can serve it then.
    try:
        return issubclass(candidate, type_)
    except TypeError:
        return False
