"""The wire format of the messages, as the shared contract spells it."""

from __future__ import annotations

import json

import cqrs
from cqrs.testing import registered_outbox_events
from orders.adapters.messages import (
    MESSAGES,
    InventoryMessages,
    StockRejected,
    register_messages,
)
from orders.application.inventory import StockLine


def test_reserve_stock_carries_the_order_and_its_items() -> None:
    command = InventoryMessages().reserve_stock("o-1", [StockLine("tea", 2), StockLine("cup", 1)])

    wire = json.loads(json.dumps(command.to_dict()))

    assert wire["event_name"] == "reserve_stock"
    assert wire["topic"] == "inventory.commands"
    assert wire["payload"] == {
        "order_id": "o-1",
        "items": [{"sku": "tea", "quantity": 2}, {"sku": "cup", "quantity": 1}],
    }


def test_release_stock_carries_the_order_id() -> None:
    command = InventoryMessages().release_stock("o-1")

    assert (command.event_name, command.topic) == ("release_stock", "inventory.commands")
    assert command.payload.model_dump() == {"order_id": "o-1"}


def test_a_stock_rejected_reply_decodes_from_its_wire_dict() -> None:
    wire = {
        "event_id": "6f1c7c1e-3b55-4a8e-9a51-8d0f5a6a1c2b",
        "event_timestamp": "2024-01-01T00:00:00+00:00",
        "event_name": "stock_rejected",
        "topic": "inventory.replies",
        "payload": {"order_id": "o-1", "reason": "insufficient_stock", "skus": ["tea"]},
    }

    reply = StockRejected.from_dict(**wire)

    assert reply.payload.skus == ["tea"]


def test_register_messages_registers_every_name_and_may_run_twice() -> None:
    with registered_outbox_events():
        register_messages()
        register_messages()
        registered = {name: cqrs.OutboxedEventMap.get(name) for name in MESSAGES}

    assert registered == dict(MESSAGES)
    assert set(MESSAGES) == {
        "reserve_stock",
        "release_stock",
        "stock_reserved",
        "stock_rejected",
        "stock_released",
        "order_confirmed",
        "order_rejected",
    }
