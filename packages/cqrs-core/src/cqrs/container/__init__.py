"""Dependency injection: the `Container` port and the adapters for DI libraries.

`cqrs.container.di.DIContainer` wraps a `di.Container` (what bootstrap does for
you when given one); `cqrs.container.dependency_injector` adapts the
dependency-injector library.
"""

from cqrs.container.protocol import Container

__all__ = ("Container",)
