"""Adapter for the `di` library: pass a raw `di.Container` to any bootstrap.

Each type is solved once, on first use. A handler whose constructor takes
nothing (and that no bind hook replaces) is built by a plain call, skipping
the container on every request. Dependencies live in the `"request"` scope,
entered once per resolution.

>>> import asyncio, di
>>> class Clock:
...     pass
>>> container = DIContainer(di.Container())
>>> isinstance(asyncio.run(container.resolve(Clock)), Clock)
True

python-cqrs's form works too: `DIContainer()`, then
`attach_external_container(di_container)`.
"""

from __future__ import annotations

import typing

import di
from di.dependent import Dependent
from di.executors import AsyncExecutor

from cqrs.container.factory_cache import Factory, FactoryCachingContainer

__all__ = ("DIContainer", "REQUEST_SCOPE")


REQUEST_SCOPE: typing.Final = "request"


class DIContainer(FactoryCachingContainer):
    """`cqrs.container.Container` over a `di.Container`."""

    __slots__ = ("_container", "_executor")

    def __init__(self, container: di.Container | None = None) -> None:
        super().__init__()
        self._container = container if container is not None else di.Container()
        self._executor = AsyncExecutor()

    @property
    def container(self) -> di.Container:
        """The wrapped `di.Container`, to add binds."""
        return self._container

    @property
    def external_container(self) -> di.Container:
        """The wrapped `di.Container` (python-cqrs's name for `container`)."""
        return self._container

    def attach_external_container(self, container: di.Container) -> None:
        """Wrap `container` from now on (python-cqrs's way to set it after creation)."""
        self._container = container
        self._forget_factories()

    def _build_factory(self, type_: type[typing.Any]) -> Factory:
        solved = self._container.solve(
            Dependent(type_, scope=REQUEST_SCOPE), scopes=[REQUEST_SCOPE]
        )
        if (
            solved.dependency.call is type_
            and len(solved.dag) == 1
            and not any(solved.dag[solved.dependency])
        ):
            self._constructors[type_] = type_

            async def construct() -> typing.Any:
                return type_()

            return construct

        async def execute() -> typing.Any:
            async with self._container.enter_scope(REQUEST_SCOPE) as state:
                return await solved.execute_async(executor=self._executor, state=state)

        return execute
