"""The container port: how the mediators get handler instances.

Any object with an async `resolve(type)` method is a container, so any DI
library can be plugged in with a few lines:

>>> class Plain:
...     async def resolve(self, type_):
...         return type_()
"""

from __future__ import annotations

import typing

__all__ = ("Container",)

_T = typing.TypeVar("_T")


@typing.runtime_checkable
class Container(typing.Protocol):
    """Builds instances of handler (and step) classes with their dependencies."""

    async def resolve(self, type_: type[_T], /) -> _T:
        """Return an instance of `type_`, its dependencies injected.

        Called once per handled message, so it must be cheap; do expensive
        analysis once per type and cache it. Raises whatever the container
        raises when a dependency cannot be built.
        """
        ...
