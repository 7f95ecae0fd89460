"""DependencyInjectorCQRSContainer: resolve by provided class, build the rest."""

from __future__ import annotations

import abc
import typing

import pytest
from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.exceptions import ConfigurationError
from cqrs.requests.bootstrap import bootstrap


class Clock:
    def now(self) -> str:
        return "local"


class UtcClock(Clock):
    def now(self) -> str:
        return "utc"


class Settings:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


class Repository(abc.ABC):
    @abc.abstractmethod
    def name(self) -> str: ...


class Token:
    def __init__(self, value: str) -> None:
        self.value = value


class Session:
    def __init__(self, token: Token) -> None:
        self.token = token


async def issue_token() -> Token:
    return Token("secret")


class Greeter:
    """Not provided: built from its annotated constructor."""

    def __init__(self, clock: Clock, settings: Settings) -> None:
        self.clock = clock
        self.settings = settings


class Greet(cqrs.Request[str]):
    name: str


class GreetHandler(cqrs.RequestHandler[Greet, str]):
    def __init__(self, greeter: Greeter, retries: int = 3) -> None:
        self.greeter = greeter
        self.retries = retries

    async def handle(self, request: Greet) -> str:
        greeting = self.greeter.settings.greeting
        return f"{greeting} {request.name} at {self.greeter.clock.now()}"


class UnannotatedHandler(cqrs.RequestHandler[Greet, str]):
    def __init__(self, greeter) -> None:  # type: ignore[no-untyped-def]
        self.greeter = greeter

    async def handle(self, request: Greet) -> str:
        return ""


class NeedsRepository:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository


class App(containers.DeclarativeContainer):
    clock = providers.Factory(UtcClock)
    settings = providers.Singleton(Settings, greeting="hello")


class ExactAndSubclass(containers.DeclarativeContainer):
    utc = providers.Factory(UtcClock)
    local = providers.Factory(Clock)


class AsyncApp(containers.DeclarativeContainer):
    token = providers.Coroutine(issue_token)
    session = providers.Factory(Session, token=token)


async def test_resolves_a_type_its_provider_provides() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    settings = await adapter.resolve(Settings)

    assert isinstance(settings, Settings)
    assert settings.greeting == "hello"


async def test_resolves_a_base_type_by_a_provider_of_its_subclass() -> None:
    clock = await DependencyInjectorCQRSContainer(App()).resolve(Clock)

    assert type(clock) is UtcClock


async def test_a_provider_of_the_exact_type_wins_over_a_subclass_provider() -> None:
    clock = await DependencyInjectorCQRSContainer(ExactAndSubclass()).resolve(Clock)

    assert type(clock) is Clock


async def test_provider_scopes_are_kept() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    assert await adapter.resolve(Settings) is await adapter.resolve(Settings)
    assert await adapter.resolve(Clock) is not await adapter.resolve(Clock)


async def test_a_provider_returning_an_awaitable_is_awaited() -> None:
    session = await DependencyInjectorCQRSContainer(AsyncApp()).resolve(Session)

    assert isinstance(session, Session)
    assert session.token.value == "secret"


async def test_an_unprovided_class_is_built_from_its_annotated_parameters() -> None:
    handler = await DependencyInjectorCQRSContainer(App()).resolve(GreetHandler)

    assert isinstance(handler.greeter, Greeter)
    assert type(handler.greeter.clock) is UtcClock
    assert handler.greeter.settings.greeting == "hello"
    assert handler.retries == 3


async def test_each_resolve_of_a_built_class_gives_a_new_instance() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    assert await adapter.resolve(GreetHandler) is not await adapter.resolve(GreetHandler)


async def test_an_unannotated_parameter_is_a_configuration_error_naming_it() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    with pytest.raises(cqrs.ConfigurationError, match="greeter"):
        await adapter.resolve(UnannotatedHandler)


async def test_an_abstract_type_nobody_provides_is_a_configuration_error() -> None:
    adapter = DependencyInjectorCQRSContainer(App())

    with pytest.raises(cqrs.ConfigurationError, match=r"providers\.Factory"):
        await adapter.resolve(NeedsRepository)


def test_exposes_the_wrapped_container() -> None:
    app = App()

    assert DependencyInjectorCQRSContainer(app).container is app


def test_satisfies_the_container_port() -> None:
    assert isinstance(DependencyInjectorCQRSContainer(App()), cqrs.Container)


async def test_request_bootstrap_end_to_end() -> None:
    mediator = bootstrap(
        di_container=DependencyInjectorCQRSContainer(App()),
        commands_mapper=lambda mapper: mapper.bind(Greet, GreetHandler),
    )

    assert await mediator.send(Greet(name="Ada")) == "hello Ada at utc"
    assert await mediator.send(Greet(name="Bob")) == "hello Bob at utc"


async def test_overriding_a_provider_changes_what_handlers_get() -> None:
    app = App()
    mediator = bootstrap(
        di_container=DependencyInjectorCQRSContainer(app),
        commands_mapper=lambda mapper: mapper.bind(Greet, GreetHandler),
    )

    # dependency-injector types override()'s argument as a bare Provider.
    with app.settings.override(  # pyright: ignore[reportUnknownMemberType]
        providers.Object(Settings(greeting="hi"))
    ):
        assert await mediator.send(Greet(name="Ada")) == "hi Ada at utc"


class _PlainPort(typing.Protocol):
    def ping(self) -> str: ...


class _PortImpl:
    def ping(self) -> str:
        return "pong"


class _NeedsPort:
    def __init__(self, port: _PlainPort) -> None:
        self.port = port


async def test_plain_protocol_without_its_provider_is_a_configuration_error() -> None:
    class App(containers.DeclarativeContainer):
        impl = providers.Factory(_PortImpl)

    adapter = DependencyInjectorCQRSContainer(App())
    with pytest.raises(ConfigurationError, match="_PlainPort"):
        await adapter.resolve(_NeedsPort)


async def test_an_attached_container_is_used_as_python_cqrs_attached_it() -> None:
    adapter = DependencyInjectorCQRSContainer()
    app = App()

    adapter.attach_external_container(app)

    assert adapter.external_container is app
    assert (await adapter.resolve(Settings)).greeting == "hello"


async def test_resolving_before_a_container_is_attached_says_to_attach_one() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="attach_external_container"):
        await DependencyInjectorCQRSContainer().resolve(Settings)


async def test_attaching_another_container_forgets_what_the_first_provided() -> None:
    class Other(containers.DeclarativeContainer):
        settings = providers.Factory(Settings, greeting="hi")

    adapter = DependencyInjectorCQRSContainer(App())
    assert (await adapter.resolve(Settings)).greeting == "hello"

    adapter.attach_external_container(Other())

    assert (await adapter.resolve(Settings)).greeting == "hi"
