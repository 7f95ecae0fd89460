"""as_container: what bootstrap accepts as `di_container`."""

from __future__ import annotations

import typing

import di
import pytest
from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.container.di import DIContainer
from cqrs.container.resolve import as_container

_T = typing.TypeVar("_T")


class Plain:
    pass


class ConstructingContainer:
    """A container written by hand: any object with an async `resolve`."""

    def __init__(self) -> None:
        self.resolved: list[type[typing.Any]] = []

    async def resolve(self, type_: type[_T], /) -> _T:
        self.resolved.append(type_)
        return type_()


class App(containers.DeclarativeContainer):
    plain = providers.Factory(Plain)


async def test_none_gives_a_fresh_di_container() -> None:
    container = as_container(None)

    assert isinstance(container, DIContainer)
    assert isinstance(await container.resolve(Plain), Plain)


def test_a_raw_di_container_is_wrapped_not_replaced() -> None:
    raw = di.Container()

    container = as_container(raw)

    assert isinstance(container, DIContainer)
    assert container.container is raw


async def test_a_custom_object_with_async_resolve_is_used_as_is() -> None:
    custom = ConstructingContainer()

    container = as_container(custom)
    resolved = await container.resolve(Plain)

    assert container is custom
    assert isinstance(resolved, Plain)
    assert custom.resolved == [Plain]


def test_an_adapter_is_used_as_is() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    assert as_container(adapter) is adapter


@pytest.mark.parametrize("rejected", [object(), "container", 42, Plain()])
def test_other_objects_are_rejected_with_what_to_pass(rejected: object) -> None:
    with pytest.raises(cqrs.ConfigurationError) as caught:
        as_container(rejected)

    message = str(caught.value)
    assert "di.Container" in message
    assert "resolve" in message
    assert type(rejected).__qualname__ in message


def test_a_raw_dependency_injector_container_is_rejected_with_the_adapter_to_use() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="DependencyInjectorCQRSContainer"):
        as_container(App())
