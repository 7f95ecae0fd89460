"""OutboxedEventMap: the process-wide name -> event class registry."""

from __future__ import annotations

import collections.abc

import pydantic
import pytest

import cqrs
from cqrs.testing import registered_outbox_events

PREFIX = "tests.outbox.test_map."


class Joined(pydantic.BaseModel):
    user_id: str


class Left(pydantic.BaseModel):
    user_id: str


@pytest.fixture(autouse=True)
def forget_registered_names() -> collections.abc.Iterator[None]:
    """The registry is process-wide: leave it as it was."""
    with registered_outbox_events():
        yield


def test_register_then_get_returns_the_class() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])

    assert cqrs.OutboxedEventMap.get(PREFIX + "joined") is cqrs.NotificationEvent[Joined]


def test_get_of_an_unknown_name_is_none() -> None:
    assert cqrs.OutboxedEventMap.get(PREFIX + "never registered") is None


def test_registering_the_same_pair_twice_is_harmless() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])

    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])

    assert cqrs.OutboxedEventMap.get(PREFIX + "joined") is cqrs.NotificationEvent[Joined]
    assert cqrs.OutboxedEventMap.names().count(PREFIX + "joined") == 1


def test_another_type_under_a_taken_name_raises_duplicate_binding() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])

    with pytest.raises(cqrs.DuplicateBindingError, match="joined"):
        cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Left])

    assert cqrs.OutboxedEventMap.get(PREFIX + "joined") is cqrs.NotificationEvent[Joined]


def test_one_type_may_be_registered_under_two_names() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])
    cqrs.OutboxedEventMap.register(PREFIX + "joined.v2", cqrs.NotificationEvent[Joined])

    assert cqrs.OutboxedEventMap.get(PREFIX + "joined.v2") is cqrs.NotificationEvent[Joined]


def test_names_lists_registrations_in_order() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "b", cqrs.NotificationEvent[Left])
    cqrs.OutboxedEventMap.register(PREFIX + "a", cqrs.NotificationEvent[Joined])

    ours = [name for name in cqrs.OutboxedEventMap.names() if name.startswith(PREFIX)]
    assert ours == [PREFIX + "b", PREFIX + "a"]


@pytest.mark.parametrize(
    ("name", "event_type"),
    [("", cqrs.NotificationEvent[Joined]), (PREFIX + "instance", Joined(user_id="u1"))],
    ids=["empty name", "instance"],
)
def test_an_empty_name_or_a_non_class_raises_invalid_binding(name: str, event_type: object) -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        cqrs.OutboxedEventMap.register(name, event_type)  # type: ignore[arg-type]

    assert cqrs.OutboxedEventMap.get(name) is None


def test_a_registered_class_rebuilds_events_from_their_wire_dict() -> None:
    cqrs.OutboxedEventMap.register(PREFIX + "joined", cqrs.NotificationEvent[Joined])
    event = cqrs.NotificationEvent[Joined](
        event_name=PREFIX + "joined", topic="users", payload=Joined(user_id="u1")
    )

    event_type = cqrs.OutboxedEventMap.get(event.event_name)

    assert event_type is not None
    assert event_type.from_dict(**event.to_dict()) == event
