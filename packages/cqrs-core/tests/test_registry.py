"""`HandlerRegistry`: decorator registration with inferred request and event types."""

import typing

import pytest

import cqrs
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap


class Ping(cqrs.Request[str]):
    pass


class Joined(cqrs.DomainEvent):
    user: str


def bound_request_handler(registry: cqrs.HandlerRegistry, request_type: type) -> typing.Any:
    mapper = RequestMap()
    registry.requests(mapper)
    return mapper.get(request_type)


def bound_event_handlers(registry: cqrs.HandlerRegistry, event_type: type) -> typing.Any:
    mapper = EventMap()
    registry.events(mapper)
    return mapper.get(event_type)


def test_request_type_is_inferred_from_the_generic_base() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.request_handler
    class PingHandler(cqrs.RequestHandler[Ping, str]):
        async def handle(self, request: Ping) -> str:
            return "pong"

    assert bound_request_handler(registry, Ping) is PingHandler


def test_request_type_is_inferred_from_the_handle_annotation() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.request_handler
    class PingHandler(cqrs.SyncRequestHandler):  # type: ignore[type-arg]
        def handle(self, request: Ping) -> str:
            return "pong"

    assert bound_request_handler(registry, Ping) is PingHandler


def test_explicit_request_type_is_used() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.request_handler(request=Ping)
    class PingHandler(cqrs.RequestHandler):  # type: ignore[type-arg]
        async def handle(self, request):  # type: ignore[no-untyped-def]
            return "pong"

    assert bound_request_handler(registry, Ping) is PingHandler


def test_untyped_request_handler_raises_invalid_binding() -> None:
    registry = cqrs.HandlerRegistry()

    class Untyped(cqrs.RequestHandler):  # type: ignore[type-arg]
        async def handle(self, request):  # type: ignore[no-untyped-def]
            return "pong"

    with pytest.raises(cqrs.InvalidBindingError, match="Untyped"):
        registry.request_handler(Untyped)


def test_event_type_is_inferred_from_the_generic_base() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.event_handler
    class Welcome(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            pass

    assert bound_event_handlers(registry, Joined) == (Welcome,)


def test_event_type_is_inferred_from_the_handle_annotation() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.event_handler
    class Welcome(cqrs.SyncEventHandler):  # type: ignore[type-arg]
        def handle(self, event: Joined) -> None:
            pass

    assert bound_event_handlers(registry, Joined) == (Welcome,)


def test_explicit_event_type_is_used() -> None:
    registry = cqrs.HandlerRegistry()

    @registry.event_handler(event=Joined)
    class Welcome(cqrs.EventHandler):  # type: ignore[type-arg]
        async def handle(self, event):  # type: ignore[no-untyped-def]
            pass

    assert bound_event_handlers(registry, Joined) == (Welcome,)


def test_untyped_event_handler_raises_invalid_binding() -> None:
    registry = cqrs.HandlerRegistry()

    class Untyped(cqrs.EventHandler):  # type: ignore[type-arg]
        async def handle(self, event):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(cqrs.InvalidBindingError, match="Untyped"):
        registry.event_handler(Untyped)


async def test_registry_methods_work_as_bootstrap_mappers() -> None:
    registry = cqrs.HandlerRegistry()
    welcomed: list[str] = []

    @registry.request_handler
    class PingHandler(cqrs.RequestHandler[Ping, str]):
        @property
        def events(self) -> list[cqrs.IEvent]:
            return [Joined(user="ada")]

        async def handle(self, request: Ping) -> str:
            return "pong"

    @registry.event_handler
    class Welcome(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            welcomed.append(event.user)

    mediator = bootstrap(commands_mapper=registry.requests, domain_events_mapper=registry.events)

    assert await mediator.send(Ping()) == "pong"
    assert welcomed == ["ada"]
