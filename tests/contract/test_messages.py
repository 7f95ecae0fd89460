"""The contract between orders and inventory: the same messages on the same topics.

Each service keeps its own copy of the messages it exchanges (they share no
code). These tests fail when the copies drift apart: a message one side
sends that the other cannot read, or a topic one side writes that the
other does not consume.
"""

from __future__ import annotations

import typing

import pytest

import cqrs
from inventory.adapters import messages as inventory_messages
from inventory.adapters.kafka import Topics
from orders.adapters import messages as orders_messages

NAMES = sorted(orders_messages.MESSAGES)

EXAMPLES: dict[str, dict[str, typing.Any]] = {
    "reserve_stock": {"order_id": "o-1", "items": [{"sku": "tea", "quantity": 2}]},
    "release_stock": {"order_id": "o-1"},
    "stock_reserved": {"order_id": "o-1"},
    "stock_rejected": {"order_id": "o-1", "reason": "insufficient_stock", "skus": ["tea"]},
    "stock_released": {"order_id": "o-1"},
}


def payload_schema(event_type: type[cqrs.NotificationEvent[typing.Any]]) -> dict[str, typing.Any]:
    payload_type = event_type.model_fields["payload"].annotation
    assert payload_type is not None
    return typing.cast(typing.Any, payload_type).model_json_schema()


def test_both_services_know_the_same_messages() -> None:
    assert sorted(inventory_messages.MESSAGES) == NAMES
    assert sorted(EXAMPLES) == NAMES


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
    topic = Topics().commands if name in {"reserve_stock", "release_stock"} else Topics().replies
    event_type = sender.MESSAGES[name]
    sent = event_type.model_validate(
        {"event_name": name, "topic": topic, "payload": EXAMPLES[name]}
    )

    received = receiver.MESSAGES[name].from_dict(**sent.to_dict())

    assert received.to_dict() == sent.to_dict()


def test_orders_writes_and_reads_the_topics_inventory_uses() -> None:
    assert Topics().commands == orders_messages.INVENTORY_COMMANDS
    assert Topics().replies == orders_messages.INVENTORY_REPLIES
