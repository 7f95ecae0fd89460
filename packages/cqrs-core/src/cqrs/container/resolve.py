"""Turn what a user passes as `di_container` into a `Container`."""

from __future__ import annotations

import typing

import di

from cqrs.container.di import DIContainer
from cqrs.container.protocol import Container
from cqrs.exceptions import ConfigurationError

__all__ = ("as_container",)


def as_container(di_container: object | None) -> Container:
    """Accept `None` (a fresh `di.Container`), a raw `di.Container`, or any `Container`."""
    if di_container is None:
        return DIContainer()
    if isinstance(di_container, di.Container):
        return DIContainer(di_container)
    if isinstance(di_container, Container):
        return typing.cast("Container", di_container)
    raise ConfigurationError(
        f"di_container must be a di.Container or have an async resolve(type) method "
        f"(see cqrs.container.Container), got {type(di_container).__qualname__}. For a "
        f"dependency-injector container, wrap it in DependencyInjectorCQRSContainer."
    )
