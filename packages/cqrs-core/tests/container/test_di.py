"""DIContainer: the `di` adapter, with its no-argument fast path."""

from __future__ import annotations

import typing

import di
import pytest
from di.dependent import Dependent

import cqrs
from cqrs.container.di import REQUEST_SCOPE, DIContainer
from cqrs.requests.bootstrap import bootstrap


class Ping(cqrs.Request[str]):
    pass


class PlainHandler(cqrs.RequestHandler[Ping, str]):
    async def handle(self, request: Ping) -> str:
        return "plain"


class ReplacementHandler(PlainHandler):
    async def handle(self, request: Ping) -> str:
        return "replacement"


class Clock(typing.Protocol):
    def now(self) -> str: ...


class FixedClock:
    def now(self) -> str:
        return "12:00"


class ClockedHandler(cqrs.RequestHandler[Ping, str]):
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def handle(self, request: Ping) -> str:
        return self.clock.now()


def clock_bound_container() -> di.Container:
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(FixedClock, scope=REQUEST_SCOPE), Clock))
    return container


async def test_resolves_a_handler_without_constructor_arguments() -> None:
    handler = await DIContainer(di.Container()).resolve(PlainHandler)

    assert type(handler) is PlainHandler


async def test_resolves_a_handler_with_a_dependency_bound_by_type() -> None:
    handler = await DIContainer(clock_bound_container()).resolve(ClockedHandler)

    assert isinstance(handler.clock, FixedClock)
    assert await handler.handle(Ping()) == "12:00"


async def test_a_bind_replacing_the_handler_class_is_honoured() -> None:
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(ReplacementHandler, scope="request"), PlainHandler))

    handler = await DIContainer(container).resolve(PlainHandler)

    assert type(handler) is ReplacementHandler


async def test_a_bind_made_through_the_container_property_is_honoured() -> None:
    adapter = DIContainer()
    adapter.container.bind(
        di.bind_by_type(Dependent(ReplacementHandler, scope="request"), PlainHandler)
    )

    assert type(await adapter.resolve(PlainHandler)) is ReplacementHandler


async def test_a_bind_replacing_the_handler_class_is_honoured_through_a_mediator() -> None:
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(ReplacementHandler, scope="request"), PlainHandler))
    mediator = bootstrap(
        di_container=container, commands_mapper=lambda mapper: mapper.bind(Ping, PlainHandler)
    )

    assert await mediator.send(Ping()) == "replacement"


@pytest.mark.parametrize("handler_type", [PlainHandler, ClockedHandler])
async def test_each_resolve_gives_a_new_instance(handler_type: type[typing.Any]) -> None:
    adapter = DIContainer(clock_bound_container())

    first = await adapter.resolve(handler_type)
    second = await adapter.resolve(handler_type)

    assert type(first) is handler_type
    assert first is not second


async def test_request_scoped_dependencies_are_fresh_per_resolve() -> None:
    adapter = DIContainer(clock_bound_container())

    first = await adapter.resolve(ClockedHandler)
    second = await adapter.resolve(ClockedHandler)

    assert first.clock is not second.clock


def test_wraps_the_given_container_or_a_new_one() -> None:
    container = di.Container()

    assert DIContainer(container).container is container
    assert isinstance(DIContainer().container, di.Container)


def test_satisfies_the_container_port() -> None:
    assert isinstance(DIContainer(), cqrs.Container)


async def test_a_container_attached_after_creation_is_used() -> None:
    container = DIContainer()
    external = clock_bound_container()

    container.attach_external_container(external)

    assert container.external_container is external
    assert (await container.resolve(ClockedHandler)).clock.now() == "12:00"


async def test_attaching_a_container_forgets_how_types_were_built_before() -> None:
    container = DIContainer()
    with pytest.raises(TypeError, match="Protocols cannot be instantiated"):
        await container.resolve(ClockedHandler)

    container.attach_external_container(clock_bound_container())

    assert (await container.resolve(ClockedHandler)).clock.now() == "12:00"
