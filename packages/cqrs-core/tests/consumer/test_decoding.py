"""`EventDecoder`: a record's value and headers back into the event it carries."""

from __future__ import annotations

import collections.abc
import json
import typing
import uuid

import pydantic
import pytest

from cqrs.consumer.decoding import EventDecoder, event_names
from cqrs.events import DomainEvent, NotificationEvent
from cqrs.exceptions import ConfigurationError, UndecodableRecordError
from cqrs.message_brokers.protocol import MESSAGE_ID_HEADER
from cqrs.testing import registered_outbox_events


class Placed(pydantic.BaseModel):
    order_id: str


OrderPlaced = NotificationEvent[Placed]


class OrderCancelled(NotificationEvent[Placed]):
    """Named by its `event_name` default."""

    event_name: str = "decoding_test_cancelled"


class Audited(DomainEvent):
    """An in-process event: no consumer can take it from a broker."""


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    with registered_outbox_events(
        {"decoding_test_placed": OrderPlaced, "decoding_test_audited": Audited}
    ):
        yield


def value(event: NotificationEvent[typing.Any]) -> bytes:
    return json.dumps(event.to_dict()).encode()


def placed(name: str = "decoding_test_placed") -> NotificationEvent[Placed]:
    return OrderPlaced(event_name=name, topic="orders", payload=Placed(order_id="o-1"))


def test_classes_come_from_the_mapping_given_else_the_outbox_map() -> None:
    class Shipped(pydantic.BaseModel):
        order_id: str

    OrderShipped = NotificationEvent[Shipped]
    decoder = EventDecoder({"decoding_test_shipped": OrderShipped})
    shipped = OrderShipped(
        event_name="decoding_test_shipped", topic="orders", payload=Shipped(order_id="o-2")
    )

    assert type(decoder.decode(value(shipped), {}).event) is OrderShipped
    assert type(decoder.decode(value(placed()), {}).event) is OrderPlaced


def test_a_class_given_alone_is_named_by_its_event_name_default_or_registration() -> None:
    decoder = EventDecoder([OrderCancelled, OrderPlaced])
    cancelled = OrderCancelled(topic="orders", payload=Placed(order_id="o-3"))

    assert event_names(OrderCancelled) == ("decoding_test_cancelled",)
    assert event_names(OrderPlaced) == ("decoding_test_placed",)
    assert decoder.decode(value(cancelled), {}).event == cancelled


def test_the_message_id_is_the_header_else_the_event_id() -> None:
    event, header_id = placed(), uuid.uuid4()
    decoder = EventDecoder()

    assert decoder.decode(value(event), {}).message_id == event.event_id
    assert decoder.decode(value(event), {MESSAGE_ID_HEADER: str(header_id)}).message_id == header_id


@pytest.mark.parametrize(
    ("raw", "headers", "reason"),
    [
        (b"{not json", {}, "not JSON"),
        (b"\xff\xfe", {}, "not JSON"),
        (b"[1, 2]", {}, "JSON list, not an event object"),
        (b'{"payload": {}}', {}, "no event_name string"),
        (b'{"event_name": "decoding_test_nobody"}', {}, "no event type is known"),
        (b'{"event_name": "decoding_test_audited"}', {}, "not a NotificationEvent"),
        (b'{"event_name": "decoding_test_placed", "payload": {}}', {}, "not a valid"),
        (
            b'{"event_name": "decoding_test_placed", "payload": {"order_id": "o"}}',
            {},
            "no message id",
        ),
        (value(placed()), {MESSAGE_ID_HEADER: "not-a-uuid"}, "is not a UUID"),
    ],
)
def test_what_is_no_known_event_is_undecodable(
    raw: bytes, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(UndecodableRecordError, match=reason):
        EventDecoder().decode(raw, headers)


def test_classes_that_cannot_be_decoded_are_refused_at_once() -> None:
    class Nameless(pydantic.BaseModel):
        pass

    with pytest.raises(ConfigurationError, match="has no event name"):
        EventDecoder([NotificationEvent[Nameless]])
    with pytest.raises(ConfigurationError, match="takes NotificationEvent classes"):
        EventDecoder({"audited": Audited})  # type: ignore[dict-item]
