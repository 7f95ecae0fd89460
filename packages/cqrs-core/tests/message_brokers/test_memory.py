"""`InMemoryMessageBroker` against the message broker contract, plus what only it has:
the messages it keeps, by topic, and `clear`."""

from __future__ import annotations

import uuid

import pydantic
import pytest

import cqrs
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.testing.message_broker import MessageBrokerBackend, MessageBrokerContract


class MemoryBrokerBackend(MessageBrokerBackend):
    def __init__(self, broker: InMemoryMessageBroker) -> None:
        self.broker = self.memory = broker

    async def published(self, topic: str, count: int) -> list[cqrs.Message]:
        return self.memory.topic(topic)[:count]


class TestInMemoryMessageBroker(MessageBrokerContract):
    @pytest.fixture
    def backend(self) -> MemoryBrokerBackend:
        return MemoryBrokerBackend(InMemoryMessageBroker())


class Joined(pydantic.BaseModel):
    user_id: str


def message(name: str, topic: str) -> cqrs.Message:
    return cqrs.Message(message_name=name, topic=topic, payload={})


async def test_keeps_every_message_in_publication_order() -> None:
    broker = cqrs.InMemoryMessageBroker()
    sent = [message("a", "users"), message("b", "orders"), message("c", "users")]

    for item in sent:
        await broker.send_message(item)

    assert broker.messages == sent


async def test_topic_filters_messages_keeping_order() -> None:
    broker = cqrs.InMemoryMessageBroker()
    for name, topic in (("a", "users"), ("b", "orders"), ("c", "users")):
        await broker.send_message(message(name, topic))

    assert [m.message_name for m in broker.topic("users")] == ["a", "c"]
    assert [m.message_name for m in broker.topic("orders")] == ["b"]
    assert broker.topic("unknown") == []


async def test_clear_forgets_every_message() -> None:
    broker = cqrs.InMemoryMessageBroker()
    await broker.send_message(message("a", "users"))

    broker.clear()

    assert broker.messages == []
    assert broker.topic("users") == []


def test_message_from_event_carries_id_name_topic_and_wire_payload() -> None:
    event = cqrs.NotificationEvent[Joined](
        event_name="user_joined", topic="users", payload=Joined(user_id="u1")
    )

    built = cqrs.Message.from_event(event)

    assert built.message_id == event.event_id
    assert built.message_name == "user_joined"
    assert built.topic == "users"
    assert built.payload == event.to_dict()
    assert built.key is None


def test_messages_get_distinct_ids_by_default() -> None:
    first, second = message("a", "t"), message("a", "t")

    assert isinstance(first.message_id, uuid.UUID)
    assert first.message_id != second.message_id
