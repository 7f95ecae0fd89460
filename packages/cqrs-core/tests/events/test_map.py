"""EventMap: any number of handlers per event type, in binding order."""

from __future__ import annotations

import pytest

import cqrs


class Joined(cqrs.DomainEvent):
    user_id: str


class Left(cqrs.DomainEvent):
    user_id: str


class SendWelcome(cqrs.EventHandler[Joined]):
    async def handle(self, event: Joined) -> None:
        pass


class UpdateStats(cqrs.EventHandler[Joined]):
    async def handle(self, event: Joined) -> None:
        pass


class AuditJoin(cqrs.SyncEventHandler[Joined]):
    def handle(self, event: Joined) -> None:
        pass


class NotAHandler:
    async def handle(self, event: Joined) -> None:
        pass


def test_several_handlers_are_kept_in_binding_order() -> None:
    mapper = cqrs.EventMap()

    mapper.bind(Joined, UpdateStats)
    mapper.bind(Joined, SendWelcome)
    mapper.bind(Joined, AuditJoin)

    assert mapper.get(Joined) == (UpdateStats, SendWelcome, AuditJoin)


def test_the_same_handler_bound_twice_raises_duplicate_binding() -> None:
    mapper = cqrs.EventMap()
    mapper.bind(Joined, SendWelcome)

    with pytest.raises(cqrs.DuplicateBindingError, match="SendWelcome"):
        mapper.bind(Joined, SendWelcome)
    assert mapper.get(Joined) == (SendWelcome,)


def test_duplicate_binding_is_a_configuration_error() -> None:
    mapper = cqrs.EventMap()
    mapper.bind(Joined, SendWelcome)

    with pytest.raises(cqrs.ConfigurationError):
        mapper.bind(Joined, SendWelcome)


def test_one_handler_may_serve_two_event_types() -> None:
    mapper = cqrs.EventMap()

    mapper.bind(Joined, SendWelcome)
    mapper.bind(Left, SendWelcome)

    assert mapper.get(Joined) == (SendWelcome,)
    assert mapper.get(Left) == (SendWelcome,)


def test_a_class_that_is_not_a_handler_raises_invalid_binding() -> None:
    mapper = cqrs.EventMap()

    with pytest.raises(cqrs.InvalidBindingError, match="NotAHandler"):
        mapper.bind(Joined, NotAHandler)
    assert Joined not in mapper


def test_a_handler_instance_raises_invalid_binding() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        cqrs.EventMap().bind(Joined, SendWelcome())  # type: ignore[arg-type]


def test_an_event_instance_instead_of_a_type_raises_invalid_binding() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        cqrs.EventMap().bind(Joined(user_id="u1"), SendWelcome)  # type: ignore[arg-type]


def test_an_event_handler_fallback_can_be_bound() -> None:
    mapper = cqrs.EventMap()
    fallback = cqrs.EventHandlerFallback(primary=SendWelcome, fallback=UpdateStats)

    mapper.bind(Joined, fallback)

    assert mapper.get(Joined) == (fallback,)


def test_get_of_an_unbound_type_is_empty() -> None:
    mapper = cqrs.EventMap()
    mapper.bind(Joined, SendWelcome)

    assert mapper.get(Left) == ()
    assert Left not in mapper
    assert len(mapper) == 1


def test_items_lists_bindings_in_order() -> None:
    mapper = cqrs.EventMap()
    mapper.bind(Left, UpdateStats)
    mapper.bind(Joined, SendWelcome)

    assert list(mapper.items()) == [(Left, (UpdateStats,)), (Joined, (SendWelcome,))]
