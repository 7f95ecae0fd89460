"""The contract between orders and inventory: the same messages on the same topics.

Each service keeps its own copy of the messages it exchanges (they share no
code). These tests fail when the copies drift apart: a message one side
sends that the other cannot read, bounds (lengths, counts, ranges) that one
side declares otherwise than the other, or a topic one side writes that the
other does not consume.
"""

from __future__ import annotations

import typing

import pydantic
import pytest

import cqrs
from inventory.adapters import messages as inventory_messages
from inventory.adapters.kafka import Topics
from inventory.domain import InvalidOrderLinesError
from orders.adapters import messages as orders_messages

SKU = "s" * 64
LARGEST_ORDER = {"order_id": "o" * 64, "items": [{"sku": SKU, "quantity": 10_000}] * 100}

NAMES = sorted(orders_messages.MESSAGES)

EXAMPLES: dict[str, dict[str, typing.Any]] = {
    "reserve_stock": {"order_id": "o-1", "items": [{"sku": "tea", "quantity": 2}]},
    "release_stock": {"order_id": "o-1"},
    "stock_reserved": {"order_id": "o-1"},
    "stock_rejected": {"order_id": "o-1", "reason": "insufficient_stock", "skus": ["tea"]},
    "stock_released": {"order_id": "o-1"},
    "order_confirmed": {
        "order_id": "o-1",
        "items": [{"sku": "tea", "quantity": 2, "unit_price": "3.50"}],
    },
    "order_rejected": {"order_id": "o-1"},
}
TOPICS: dict[str, str] = {
    "reserve_stock": Topics().commands,
    "release_stock": Topics().commands,
    "stock_reserved": Topics().replies,
    "stock_rejected": Topics().replies,
    "stock_released": Topics().replies,
    "order_confirmed": Topics().order_events,
    "order_rejected": Topics().order_events,
}


def payload_schema(event_type: type[cqrs.NotificationEvent[typing.Any]]) -> dict[str, typing.Any]:
    payload_type = event_type.model_fields["payload"].annotation
    assert payload_type is not None
    return typing.cast(typing.Any, payload_type).model_json_schema()


def test_both_services_know_the_same_messages() -> None:
    assert sorted(inventory_messages.MESSAGES) == NAMES
    assert sorted(EXAMPLES) == sorted(TOPICS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_payload_schemas_are_identical(name: str) -> None:
    assert payload_schema(orders_messages.MESSAGES[name]) == payload_schema(
        inventory_messages.MESSAGES[name]
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("direction", ["orders->inventory", "inventory->orders"])
def test_what_one_side_writes_the_other_reads_back_unchanged(name: str, direction: str) -> None:
    sender, receiver = (
        (orders_messages, inventory_messages)
        if direction == "orders->inventory"
        else (inventory_messages, orders_messages)
    )
    topic = TOPICS[name]
    event_type = sender.MESSAGES[name]
    sent = event_type.model_validate(
        {"event_name": name, "topic": topic, "payload": EXAMPLES[name]}
    )

    received = receiver.MESSAGES[name].from_dict(**sent.to_dict())

    assert received.to_dict() == sent.to_dict()


def test_orders_writes_and_reads_the_topics_inventory_uses() -> None:
    assert Topics().commands == orders_messages.INVENTORY_COMMANDS
    assert Topics().replies == orders_messages.INVENTORY_REPLIES
    assert Topics().order_events == orders_messages.ORDERS_EVENTS


def test_inventory_consumes_every_notification_orders_sends() -> None:
    sent = {
        name for name in orders_messages.MESSAGES if TOPICS[name] == orders_messages.ORDERS_EVENTS
    }
    assert sent == set(inventory_messages.ORDER_EVENTS) == {"order_confirmed", "order_rejected"}


def test_the_bounds_are_declared_in_the_schemas() -> None:
    # Both copies could drop a bound together and still be equal: pin the bounds.
    schema = payload_schema(orders_messages.MESSAGES["reserve_stock"])
    item = schema["$defs"]["StockItem"]["properties"]

    assert schema["properties"]["order_id"]["maxLength"] == 64
    assert (
        schema["properties"]["items"]["minItems"],
        schema["properties"]["items"]["maxItems"],
    ) == (
        1,
        100,
    )
    assert (item["sku"]["maxLength"], item["quantity"]["maximum"]) == (64, 10_000)
    assert "pattern" in item["sku"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"order_id": "o" * 65}, id="order id too long"),
        pytest.param({"order_id": "o\x00"}, id="NUL in the order id"),
        pytest.param({"items": []}, id="no items"),
        pytest.param({"items": [{"sku": SKU, "quantity": 1}] * 101}, id="too many items"),
        pytest.param({"items": [{"sku": SKU + "s", "quantity": 1}]}, id="sku too long"),
        pytest.param({"items": [{"sku": "t\x00a", "quantity": 1}]}, id="NUL in a sku"),
        pytest.param({"items": [{"sku": "tea", "quantity": 10_001}]}, id="quantity too large"),
        pytest.param({"items": [{"sku": "tea", "quantity": 0}]}, id="quantity zero"),
        pytest.param({"items": [{"sku": "tea", "quantity": True}]}, id="quantity true"),
    ],
)
def test_what_breaks_a_bound_is_refused_by_both_sides_alike(overrides: dict[str, object]) -> None:
    payload = {**LARGEST_ORDER, **overrides}
    wire = {"event_name": "reserve_stock", "topic": Topics().commands, "payload": payload}

    for side in (orders_messages, inventory_messages):
        with pytest.raises(pydantic.ValidationError):
            side.MESSAGES["reserve_stock"].model_validate(wire)
    # The inventory's consumer reads any command with an order id, and refuses the
    # items that break the contract, so that it can answer them.
    try:
        incoming = inventory_messages.IncomingReserveStock.model_validate(wire)
    except pydantic.ValidationError:
        assert "order_id" in overrides
    else:
        with pytest.raises(InvalidOrderLinesError):
            incoming.payload.lines()


def test_the_largest_order_orders_may_send_is_one_inventory_serves() -> None:
    sent = orders_messages.MESSAGES["reserve_stock"].model_validate(
        {"event_name": "reserve_stock", "topic": Topics().commands, "payload": LARGEST_ORDER}
    )

    received = inventory_messages.IncomingReserveStock.from_dict(**sent.to_dict())

    assert len(received.payload.lines()) == 100


def test_a_confirmation_carries_the_order_and_reads_without_lines_as_before() -> None:
    # The lines travel with the event (event-carried state transfer); a record from
    # before they were added has none and still reads, on both sides.
    old: dict[str, typing.Any] = {
        "event_name": "order_confirmed",
        "topic": Topics().order_events,
        "payload": {"order_id": "o-1"},
    }

    for side in (orders_messages, inventory_messages):
        event_type = side.MESSAGES["order_confirmed"]
        assert issubclass(event_type, cqrs.ECSTEvent)
        assert event_type.from_dict(**old).to_dict()["payload"]["items"] == []
