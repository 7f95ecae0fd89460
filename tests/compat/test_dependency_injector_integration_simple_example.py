"""python-cqrs `examples/dependency_injector_integration_simple_example.py`: a
dependency-injector container attached to `DependencyInjectorCQRSContainer()`."""

from __future__ import annotations

import abc
import typing

from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.container.protocol import Container as CQRSContainer
from cqrs.requests import bootstrap

STACK: list[int] = []


class AbstractDependency(abc.ABC):
    @abc.abstractmethod
    async def do_something(self) -> None: ...


class ConcreteDependency(AbstractDependency):
    async def do_something(self) -> None:
        STACK.append(1)


class Command(cqrs.Request):
    pass


class CommandHandler(cqrs.RequestHandler[Command, None]):
    def __init__(self, dependency: AbstractDependency) -> None:
        self.dependency = dependency

    @property
    def events(self) -> typing.List[cqrs.Event]:  # noqa: UP006 - python-cqrs's spelling
        return []

    async def handle(self, request: Command) -> None:
        await self.dependency.do_something()


class Container(containers.DeclarativeContainer):
    dependency = providers.Singleton(ConcreteDependency)
    command_handler = providers.Factory(CommandHandler, dependency=dependency)


def setup_di_container() -> CQRSContainer:
    cqrs_container = DependencyInjectorCQRSContainer()
    cqrs_container.attach_external_container(Container())
    return cqrs_container


async def test_the_handler_comes_from_the_attached_container() -> None:
    STACK.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di_container(),
        commands_mapper=lambda mapper: mapper.bind(Command, CommandHandler),
    )

    assert await mediator.send(Command()) is None
    assert STACK == [1]


def test_the_constructor_form_still_works() -> None:
    app = Container()

    assert DependencyInjectorCQRSContainer(app).external_container is app
