"""EventEmitter: domain events to in-process handlers, notifications to the broker."""

from __future__ import annotations

import dataclasses
import typing

import pydantic
import pytest

import cqrs
from cqrs.container.di import DIContainer


class Joined(pydantic.BaseModel):
    user_id: str


class Shipped(cqrs.DomainEvent):
    order_id: str


@dataclasses.dataclass(frozen=True)
class Refunded(cqrs.DCDomainEvent):
    order_id: str


def notification(user_id: str = "u1") -> cqrs.NotificationEvent[Joined]:
    return cqrs.NotificationEvent[Joined](
        event_name="user_joined", topic="users", payload=Joined(user_id=user_id)
    )


def emitter_with(
    bindings: typing.Sequence[tuple[type[typing.Any], type[typing.Any]]],
    broker: cqrs.MessageBroker | None = None,
    **options: typing.Any,
) -> cqrs.EventEmitter:
    event_map = cqrs.EventMap()
    for event_type, handler in bindings:
        event_map.bind(event_type, handler)
    return cqrs.EventEmitter(event_map, DIContainer(), broker, **options)


async def test_notification_is_published_as_a_message_carrying_the_event() -> None:
    broker = cqrs.InMemoryMessageBroker()
    event = notification()

    await emitter_with([], broker).emit(event)

    assert len(broker.messages) == 1
    message = broker.messages[0]
    assert isinstance(message, cqrs.Message)
    assert message.message_id == event.event_id
    assert message.topic == "users"
    assert message.message_name == "user_joined"
    assert message.payload == event.to_dict()


async def test_notifications_are_published_in_emission_order() -> None:
    broker = cqrs.InMemoryMessageBroker()
    events = [notification("a"), notification("b"), notification("c")]

    await emitter_with([], broker).emit_all(events)

    assert [m.message_id for m in broker.messages] == [e.event_id for e in events]


async def test_notification_is_not_given_to_in_process_handlers() -> None:
    seen: list[object] = []

    class ReactToJoin(cqrs.EventHandler[cqrs.NotificationEvent[Joined]]):
        async def handle(self, event: cqrs.NotificationEvent[Joined]) -> None:
            seen.append(event)

    broker = cqrs.InMemoryMessageBroker()

    await emitter_with([(cqrs.NotificationEvent[Joined], ReactToJoin)], broker).emit(notification())

    assert seen == []
    assert len(broker.messages) == 1


async def test_domain_event_goes_to_its_handlers_not_the_broker() -> None:
    seen: list[str] = []

    class Project(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            seen.append(event.order_id)

    broker = cqrs.InMemoryMessageBroker()

    await emitter_with([(Shipped, Project)], broker).emit(Shipped(order_id="o1"))

    assert seen == ["o1"]
    assert broker.messages == []


async def test_dataclass_domain_event_goes_to_its_handlers() -> None:
    seen: list[str] = []

    class Project(cqrs.EventHandler[Refunded]):
        async def handle(self, event: Refunded) -> None:
            seen.append(event.order_id)

    await emitter_with([(Refunded, Project)]).emit(Refunded(order_id="o1"))

    assert seen == ["o1"]


async def test_mixed_events_are_routed_each_to_its_place() -> None:
    seen: list[str] = []

    class Project(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            seen.append(event.order_id)

    broker = cqrs.InMemoryMessageBroker()
    joined = notification()

    await emitter_with([(Shipped, Project)], broker).emit_all(
        [Shipped(order_id="o1"), joined, Shipped(order_id="o2")]
    )

    assert seen == ["o1", "o2"]
    assert [m.message_id for m in broker.messages] == [joined.event_id]


async def test_notifications_are_published_before_a_domain_handler_failure_is_raised() -> None:
    error = RuntimeError("projection broke")

    class BrokenProjection(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            raise error

    broker = cqrs.InMemoryMessageBroker()
    first, second = notification("a"), notification("b")

    with pytest.raises(RuntimeError) as caught:
        await emitter_with([(Shipped, BrokenProjection)], broker).emit_all(
            [first, Shipped(order_id="o1"), second]
        )

    assert [m.message_id for m in broker.messages] == [first.event_id, second.event_id]
    assert caught.value is error


async def test_every_domain_handler_runs_when_one_fails() -> None:
    seen: list[str] = []

    class Broken(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            raise RuntimeError("broken")

    class Healthy(cqrs.EventHandler[Shipped]):
        async def handle(self, event: Shipped) -> None:
            seen.append(event.order_id)

    emitter = emitter_with([(Shipped, Broken), (Shipped, Healthy)])

    with pytest.raises(RuntimeError, match="broken"):
        await emitter.emit(Shipped(order_id="o1"))

    assert seen == ["o1"]


async def test_without_a_broker_notifications_are_dropped_by_devnull() -> None:
    emitter = emitter_with([])

    await emitter.emit(notification())

    assert isinstance(emitter.message_broker, cqrs.DevnullMessageBroker)
    assert emitter.message_broker.dropped == 1


async def test_emitter_exposes_the_broker_it_was_given() -> None:
    broker = cqrs.InMemoryMessageBroker()

    assert emitter_with([], broker).message_broker is broker


def test_emitter_rejects_a_concurrency_limit_below_one() -> None:
    with pytest.raises(cqrs.ConfigurationError):
        emitter_with([], max_concurrent_event_handlers=0)
