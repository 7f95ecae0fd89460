"""EventMediator: every handler of the event's type runs, wrapped in the middlewares."""

from __future__ import annotations

import typing

import pydantic
import pytest

import cqrs
from cqrs.container.di import DIContainer


class Joined(cqrs.DomainEvent):
    user_id: str


class Left(cqrs.DomainEvent):
    user_id: str


class VipJoined(Joined):
    pass


class UserPayload(pydantic.BaseModel):
    user_id: str


class OrderPayload(pydantic.BaseModel):
    order_id: str


def mediator(
    bindings: typing.Sequence[tuple[type[typing.Any], type[typing.Any]]],
    middlewares: typing.Sequence[cqrs.Middleware] = (),
) -> cqrs.EventMediator:
    event_map = cqrs.EventMap()
    for event_type, handler in bindings:
        event_map.bind(event_type, handler)
    return cqrs.EventMediator(event_map, DIContainer(), middlewares)


def handler_for(name: str, log: list[str]) -> type[cqrs.EventHandler[typing.Any]]:
    class Handler(cqrs.EventHandler[typing.Any]):
        async def handle(self, event: typing.Any) -> None:
            log.append(name)

    Handler.__qualname__ = name
    return Handler


async def test_send_runs_every_handler_of_the_event_type() -> None:
    log: list[str] = []

    await mediator(
        [(Joined, handler_for("welcome", log)), (Joined, handler_for("stats", log))]
    ).send(Joined(user_id="u1"))

    assert log == ["welcome", "stats"]


async def test_handlers_of_other_event_types_do_not_run() -> None:
    log: list[str] = []
    events = mediator(
        [(Joined, handler_for("on_joined", log)), (Left, handler_for("on_left", log))]
    )

    await events.send(Left(user_id="u1"))

    assert log == ["on_left"]


async def test_handlers_of_a_base_event_type_do_not_run_for_a_subclass() -> None:
    log: list[str] = []

    await mediator([(Joined, handler_for("on_joined", log))]).send(VipJoined(user_id="u1"))

    assert log == []


async def test_event_without_handlers_is_a_no_op() -> None:
    log: list[str] = []

    await mediator([(Joined, handler_for("on_joined", log))]).send(Left(user_id="u1"))
    await mediator([]).send(Left(user_id="u1"))

    assert log == []


async def test_middlewares_wrap_dispatch_first_one_outermost() -> None:
    log: list[str] = []

    class Tag:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, event: typing.Any, handle: cqrs.middlewares.HandleType) -> None:
            log.append(f"{self.name} before {type(event).__name__}")
            await handle(event)
            log.append(f"{self.name} after")

    events = mediator([(Joined, handler_for("handler", log))], [Tag("outer"), Tag("inner")])

    await events.send(Joined(user_id="u1"))

    assert log == [
        "outer before Joined",
        "inner before Joined",
        "handler",
        "inner after",
        "outer after",
    ]


async def test_a_middleware_can_stop_the_event() -> None:
    log: list[str] = []

    async def drop(event: typing.Any, handle: cqrs.middlewares.HandleType) -> None:
        return None

    await mediator([(Joined, handler_for("handler", log))], [drop]).send(Joined(user_id="u1"))

    assert log == []


async def test_handler_failure_is_raised_after_all_handlers_ran() -> None:
    log: list[str] = []

    class Broken(cqrs.EventHandler[Joined]):
        async def handle(self, event: Joined) -> None:
            raise RuntimeError("broken")

    events = mediator([(Joined, Broken), (Joined, handler_for("healthy", log))])

    with pytest.raises(RuntimeError, match="broken") as caught:
        await events.send(Joined(user_id="u1"))

    assert log == ["healthy"]
    # The dispatcher sets it on the raised exception.
    report: cqrs.EventHandlingError = vars(caught.value)["event_handling_error"]
    assert report.failures[0][1] is Broken


async def test_parametrised_notification_types_are_distinct_map_keys() -> None:
    log: list[str] = []
    users = cqrs.NotificationEvent[UserPayload]
    orders = cqrs.NotificationEvent[OrderPayload]
    events = mediator(
        [(users, handler_for("on_user", log)), (orders, handler_for("on_order", log))]
    )

    await events.send(users(event_name="joined", topic="users", payload=UserPayload(user_id="u")))
    await events.send(
        orders.from_dict(event_name="placed", topic="orders", payload={"order_id": "o"})
    )

    assert log == ["on_user", "on_order"]


def test_mediator_rejects_a_concurrency_limit_below_one() -> None:
    with pytest.raises(cqrs.ConfigurationError):
        cqrs.EventMediator(cqrs.EventMap(), DIContainer(), max_concurrent_event_handlers=0)
