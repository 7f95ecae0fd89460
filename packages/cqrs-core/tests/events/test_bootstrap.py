"""cqrs.events.bootstrap: an EventMediator from a mapper, a container and options."""

from __future__ import annotations

import asyncio
import typing

import di
import pydantic
import pytest
from di.dependent import Dependent

import cqrs
from cqrs.events.bootstrap import bootstrap

GUARD_SECONDS = 5  # only turns a deadlock into a failure


class UserPayload(pydantic.BaseModel):
    user_id: str


UserJoined = cqrs.NotificationEvent[UserPayload]


class Shipped(cqrs.DomainEvent):
    order_id: str


class Greeter(typing.Protocol):
    def greet(self, user_id: str) -> str: ...


class EnglishGreeter:
    def greet(self, user_id: str) -> str:
        return f"hello {user_id}"


GREETINGS: list[str] = []


class SendWelcome(cqrs.EventHandler[UserJoined]):
    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter

    async def handle(self, event: UserJoined) -> None:
        GREETINGS.append(self.greeter.greet(event.payload.user_id))


def joined(user_id: str = "u1") -> cqrs.NotificationEvent[UserPayload]:
    return UserJoined(event_name="user_joined", topic="users", payload=UserPayload(user_id=user_id))


def yield_to_loop() -> asyncio.Future[None]:
    """Suspend once, letting every other ready task take a step."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.call_soon(future.set_result, None)
    return future


def recorder(name: str, log: list[str]) -> type[cqrs.EventHandler[typing.Any]]:
    class Recorder(cqrs.EventHandler[typing.Any]):
        async def handle(self, event: typing.Any) -> None:
            log.append(name)

    Recorder.__qualname__ = name
    return Recorder


async def test_bootstrap_dispatches_a_parametrised_notification_to_its_handlers() -> None:
    log: list[str] = []

    def events_mapper(mapper: cqrs.EventMap) -> None:
        mapper.bind(UserJoined, recorder("first", log))
        mapper.bind(UserJoined, recorder("second", log))
        mapper.bind(Shipped, recorder("on_shipped", log))

    await bootstrap(di_container=di.Container(), events_mapper=events_mapper).send(joined())

    assert log == ["first", "second"]


async def test_bootstrap_injects_handler_dependencies_from_the_di_container() -> None:
    GREETINGS.clear()
    container = di.Container()
    container.bind(di.bind_by_type(Dependent(EnglishGreeter, scope="request"), Greeter))

    mediator = bootstrap(
        di_container=container,
        events_mapper=lambda mapper: mapper.bind(UserJoined, SendWelcome),
    )
    await mediator.send(joined("ada"))

    assert GREETINGS == ["hello ada"]


async def test_bootstrap_without_handlers_accepts_any_event() -> None:
    mediator = bootstrap(di_container=di.Container())

    await mediator.send(Shipped(order_id="o1"))

    assert isinstance(mediator, cqrs.EventMediator)


async def test_bootstrap_applies_middlewares_in_order() -> None:
    log: list[str] = []

    def tag(name: str) -> cqrs.Middleware:
        async def middleware(event: typing.Any, handle: cqrs.middlewares.HandleType) -> None:
            log.append(f"{name} in")
            await handle(event)
            log.append(f"{name} out")

        return middleware

    mediator = bootstrap(
        di_container=di.Container(),
        events_mapper=lambda mapper: mapper.bind(Shipped, recorder("handler", log)),
        middlewares=[tag("a"), tag("b")],
    )
    await mediator.send(Shipped(order_id="o1"))

    assert log == ["a in", "b in", "handler", "b out", "a out"]


def test_bootstrap_runs_on_startup_hooks_once_before_mapping() -> None:
    calls: list[str] = []

    bootstrap(
        di_container=di.Container(),
        events_mapper=lambda mapper: calls.append("mapper"),
        on_startup=[lambda: calls.append("first hook"), lambda: calls.append("second hook")],
    )

    assert calls == ["first hook", "second hook", "mapper"]


async def test_bootstrap_max_concurrent_handlers_run_in_parallel() -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    def waiter(name: str) -> type[cqrs.EventHandler[Shipped]]:
        class Waiter(cqrs.EventHandler[Shipped]):
            async def handle(self, event: Shipped) -> None:
                started.append(name)
                if len(started) == 2:
                    both_started.set()
                await both_started.wait()

        return Waiter

    def events_mapper(mapper: cqrs.EventMap) -> None:
        mapper.bind(Shipped, waiter("a"))
        mapper.bind(Shipped, waiter("b"))

    mediator = bootstrap(
        di_container=di.Container(),
        events_mapper=events_mapper,
        max_concurrent_event_handlers=2,
        concurrent_event_handle_enable=True,
    )
    await asyncio.wait_for(mediator.send(Shipped(order_id="o1")), GUARD_SECONDS)

    assert sorted(started) == ["a", "b"]


async def test_bootstrap_concurrency_disabled_runs_handlers_one_at_a_time() -> None:
    log: list[str] = []
    in_flight = 0
    peak = 0

    def counted(name: str) -> type[cqrs.EventHandler[Shipped]]:
        class Counted(cqrs.EventHandler[Shipped]):
            async def handle(self, event: Shipped) -> None:
                nonlocal in_flight, peak
                in_flight += 1
                peak = max(peak, in_flight)
                await yield_to_loop()
                log.append(name)
                in_flight -= 1

        return Counted

    def events_mapper(mapper: cqrs.EventMap) -> None:
        for name in ("a", "b", "c"):
            mapper.bind(Shipped, counted(name))

    mediator = bootstrap(
        di_container=di.Container(),
        events_mapper=events_mapper,
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=False,
    )
    await mediator.send(Shipped(order_id="o1"))

    assert log == ["a", "b", "c"]
    assert peak == 1


def test_bootstrap_rejects_a_concurrency_limit_below_one() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="max_concurrent_event_handlers"):
        bootstrap(di_container=di.Container(), max_concurrent_event_handlers=0)


def test_bootstrap_rejects_an_unusable_container() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="di_container"):
        bootstrap(di_container=object())


async def test_none_for_on_startup_and_middlewares_means_none() -> None:
    seen: list[str] = []

    class Record(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            seen.append(event.order_id)

    mediator = bootstrap(
        events_mapper=lambda mapper: mapper.bind(Shipped, Record),
        on_startup=None,
        middlewares=None,
    )
    await mediator.send(Shipped(order_id="o1"))

    assert seen == ["o1"]
