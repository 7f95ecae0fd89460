"""`InMemoryMessageBroker`: keeps every message, for tests.

>>> import asyncio
>>> from cqrs.message_brokers.protocol import Message
>>> broker = InMemoryMessageBroker()
>>> asyncio.run(broker.send_message(Message(message_name="a", topic="t", payload={})))
>>> [m.message_name for m in broker.topic("t")]
['a']
"""

from __future__ import annotations

from cqrs.message_brokers.protocol import Message

__all__ = ("InMemoryMessageBroker",)


class InMemoryMessageBroker:
    """A `MessageBroker` that records messages in publication order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def send_message(self, message: Message) -> None:
        self.messages.append(message)

    def topic(self, topic: str) -> list[Message]:
        """The messages published to `topic`, in order."""
        return [message for message in self.messages if message.topic == topic]

    def clear(self) -> None:
        """Forget every message."""
        self.messages.clear()
