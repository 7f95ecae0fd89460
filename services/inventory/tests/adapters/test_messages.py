"""The wire format of the messages, as the shared contract spells it."""

from __future__ import annotations

import cqrs
from cqrs.testing import registered_outbox_events
from inventory.adapters.messages import MESSAGES, ReserveStock, register_messages


def test_a_reserve_command_of_the_orders_service_decodes() -> None:
    wire = {
        "event_id": "6f1c1f5e-3f5b-4d4b-9b1e-0d6c2b7e9a10",
        "event_timestamp": "2026-01-01T12:00:00+00:00",
        "event_name": "reserve_stock",
        "topic": "inventory.commands",
        "payload": {"order_id": "o-1", "items": [{"sku": "tea", "quantity": 2}]},
    }
    command = ReserveStock.from_dict(**wire)
    assert (command.payload.order_id, command.payload.items[0].sku) == ("o-1", "tea")


def test_register_messages_registers_the_seven_names() -> None:
    with registered_outbox_events():
        register_messages()
        register_messages()  # again: harmless
        registered = {name: cqrs.OutboxedEventMap.get(name) for name in MESSAGES}
    assert registered == dict(MESSAGES)
    assert sorted(MESSAGES) == [
        "order_confirmed",
        "order_rejected",
        "release_stock",
        "reserve_stock",
        "stock_rejected",
        "stock_released",
        "stock_reserved",
    ]
