"""The container port: how the mediators get handler instances.

Any object with an async `resolve(type)` method is a container, so any DI
library can be plugged in with a few lines:

>>> class Plain:
...     async def resolve(self, type_):
...         return type_()

python-cqrs's containers subclassed `Container[ExternalContainer]`; that
works too, the parameter naming the DI library's container they wrap:

>>> class Wrapping(Container[dict]):
...     async def resolve(self, type_):
...         return type_()
"""

from __future__ import annotations

import typing

from typing_extensions import TypeVar

__all__ = ("Container",)

_T = typing.TypeVar("_T")
# The container a python-cqrs container wrapped (its `external_container`);
# the mediators never use it.
_ExternalT_co = TypeVar("_ExternalT_co", covariant=True, default=typing.Any)


@typing.runtime_checkable
class Container(typing.Protocol[_ExternalT_co]):
    """Builds instances of handler (and step) classes with their dependencies."""

    async def resolve(self, type_: type[_T], /) -> _T:
        """Return an instance of `type_`, its dependencies injected.

        Called once per handled message, so it must be cheap; do expensive
        analysis once per type and cache it. Raises whatever the container
        raises when a dependency cannot be built.
        """
        ...
