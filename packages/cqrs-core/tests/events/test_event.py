"""The event wire format: snake_case keys, dashed UUIDs, zoned ISO-8601 timestamps."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid

import pydantic
import pytest

import cqrs


class Joined(pydantic.BaseModel):
    user_id: str
    display_name: str


class AccountState(pydantic.BaseModel):
    account_id: str
    balance_cents: int


class Shipped(cqrs.DomainEvent):
    order_id: str


@dataclasses.dataclass(frozen=True)
class Refunded(cqrs.DCDomainEvent):
    order_id: str
    amount_cents: int
    refund_id: uuid.UUID
    refunded_at: datetime.datetime


def joined_event(**overrides: object) -> cqrs.NotificationEvent[Joined]:
    fields: dict[str, object] = {
        "event_name": "user_joined",
        "topic": "users",
        "payload": Joined(user_id="u1", display_name="Ada"),
    }
    fields.update(overrides)
    return cqrs.NotificationEvent[Joined](**fields)  # type: ignore[arg-type]


def parse_timestamp(value: str) -> datetime.datetime:
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(value)


def test_notification_to_dict_has_snake_case_keys() -> None:
    wire = joined_event().to_dict()

    assert set(wire) == {"event_id", "event_timestamp", "event_name", "topic", "payload"}
    assert wire["payload"] == {"user_id": "u1", "display_name": "Ada"}


def test_notification_event_id_is_a_dashed_uuid_string() -> None:
    event = joined_event()

    wire_id = event.to_dict()["event_id"]

    assert isinstance(wire_id, str)
    assert wire_id == str(event.event_id)
    assert str(uuid.UUID(wire_id)) == wire_id
    assert wire_id.count("-") == 4


def test_notification_timestamp_is_iso_8601_with_a_time_zone() -> None:
    event = joined_event()

    wire_timestamp = event.to_dict()["event_timestamp"]

    assert isinstance(wire_timestamp, str)
    parsed = parse_timestamp(wire_timestamp)
    assert parsed.tzinfo is not None
    assert parsed == event.event_timestamp


def test_default_timestamp_is_time_zone_aware() -> None:
    assert joined_event().event_timestamp.tzinfo is not None


def test_notification_round_trips_through_from_dict_with_typed_payload() -> None:
    event = joined_event()

    restored = cqrs.NotificationEvent[Joined].from_dict(**event.to_dict())

    assert restored == event
    assert isinstance(restored.payload, Joined)
    assert restored.payload.display_name == "Ada"
    assert restored.event_id == event.event_id


def test_notification_round_trips_through_json_text() -> None:
    event = joined_event()

    restored = cqrs.NotificationEvent[Joined].from_dict(**json.loads(json.dumps(event.to_dict())))

    assert restored == event
    assert isinstance(restored.payload, Joined)


def test_naive_timestamp_is_taken_as_utc() -> None:
    naive = datetime.datetime(2024, 5, 1, 12, 30)

    event = joined_event(event_timestamp=naive)

    assert event.event_timestamp.tzinfo is not None
    assert event.event_timestamp.utcoffset() == datetime.timedelta(0)
    assert event.event_timestamp.replace(tzinfo=None) == naive


def test_aware_timestamp_keeps_its_offset() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    stamp = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=plus_two)

    event = joined_event(event_timestamp=stamp)

    assert event.event_timestamp.utcoffset() == datetime.timedelta(hours=2)


def test_naive_wire_timestamp_is_taken_as_utc_on_from_dict() -> None:
    wire = joined_event().to_dict()
    wire["event_timestamp"] = "2024-05-01T12:30:00"

    restored = cqrs.NotificationEvent[Joined].from_dict(**wire)

    assert restored.event_timestamp == datetime.datetime(
        2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc
    )


def test_legacy_event_topic_alias_fills_topic() -> None:
    event = cqrs.NotificationEvent[Joined](
        event_name="user_joined",
        event_topic="legacy-users",  # type: ignore[call-arg]
        payload=Joined(user_id="u1", display_name="Ada"),
    )

    assert event.topic == "legacy-users"
    assert event.to_dict()["topic"] == "legacy-users"


def test_payload_is_validated_against_its_type() -> None:
    with pytest.raises(pydantic.ValidationError):
        cqrs.NotificationEvent[Joined].from_dict(
            event_name="user_joined", topic="users", payload={"user_id": "u1"}
        )


def test_ecst_event_round_trips() -> None:
    event = cqrs.ECSTEvent[AccountState](
        event_name="account_state",
        topic="accounts",
        payload=AccountState(account_id="a1", balance_cents=1250),
    )

    restored = cqrs.ECSTEvent[AccountState].from_dict(**json.loads(json.dumps(event.to_dict())))

    assert restored == event
    assert isinstance(restored.payload, AccountState)
    assert isinstance(restored, cqrs.NotificationEvent)


def test_domain_event_is_immutable() -> None:
    event = Shipped(order_id="o1")

    with pytest.raises(pydantic.ValidationError):
        event.order_id = "o2"  # type: ignore[misc]
    assert event.order_id == "o1"


def test_domain_event_round_trips() -> None:
    event = Shipped(order_id="o1")

    assert event.to_dict() == {"order_id": "o1"}
    assert Shipped.from_dict(**event.to_dict()) == event


def test_dataclass_domain_event_round_trips_with_the_same_wire_format() -> None:
    refund_id = uuid.uuid4()
    event = Refunded(
        order_id="o1",
        amount_cents=500,
        refund_id=refund_id,
        refunded_at=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
    )

    wire = json.loads(json.dumps(event.to_dict()))

    assert wire["refund_id"] == str(refund_id)
    assert parse_timestamp(wire["refunded_at"]).tzinfo is not None
    assert Refunded.from_dict(**wire) == event


def test_dataclass_domain_event_is_immutable() -> None:
    event = Refunded(
        order_id="o1",
        amount_cents=500,
        refund_id=uuid.uuid4(),
        refunded_at=datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc),
    )

    with pytest.raises(dataclasses.FrozenInstanceError):
        event.order_id = "o2"  # type: ignore[misc]


# -- python-cqrs 4.x event classes ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True)
class Invoiced(cqrs.DCDomainEvent):
    invoice_id: uuid.UUID
    issued_at: datetime.datetime
    lines: list[Line]


def test_a_dataclass_event_rebuilds_nested_dataclasses_uuids_datetimes_and_lists() -> None:
    event = Invoiced(
        invoice_id=uuid.uuid4(),
        issued_at=datetime.datetime(2024, 5, 1, 9, tzinfo=datetime.timezone.utc),
        lines=[Line("tea", 2), Line("cup", 1)],
    )

    assert Invoiced.from_dict(**json.loads(json.dumps(event.to_dict()))) == event


def test_a_dataclass_notification_event_has_the_notification_fields() -> None:
    @dataclasses.dataclass(frozen=True)
    class Joined(cqrs.DCNotificationEvent[dict[str, str]]):
        pass

    event = Joined(event_name="joined", topic="users", payload={"user_id": "u1"})

    assert isinstance(event, cqrs.INotificationEvent)
    assert event.event_timestamp.tzinfo is not None
    assert Joined.from_dict(**event.to_dict()) == event
    assert hash(event) == hash(event.event_id)


def test_notification_events_are_hashable_by_their_id() -> None:
    first = cqrs.NotificationEvent[Joined](
        event_name="joined", payload=Joined(user_id="u1", display_name="Ada")
    )
    copy = cqrs.NotificationEvent[Joined].from_dict(**first.to_dict())

    assert hash(first) == hash(first.event_id)
    assert {first, copy} == {first}


def test_python_cqrs_names_are_the_same_classes() -> None:
    assert cqrs.PydanticEvent is cqrs.Event
    assert cqrs.PydanticDomainEvent is cqrs.DomainEvent
    assert cqrs.PydanticNotificationEvent is cqrs.NotificationEvent
    assert issubclass(cqrs.DomainEvent, cqrs.IDomainEvent)
    assert issubclass(cqrs.DCDomainEvent, cqrs.IDomainEvent)
    assert issubclass(cqrs.DCDomainEvent, cqrs.DCEvent)
    assert issubclass(cqrs.ECSTEvent, cqrs.INotificationEvent)
