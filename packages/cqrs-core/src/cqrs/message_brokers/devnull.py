"""`DevnullMessageBroker`: drops messages, for services that publish nothing.

It counts what it dropped and keeps only the last few messages, so its memory
stays bounded however long the process runs.

>>> import asyncio
>>> from cqrs.message_brokers.protocol import Message
>>> broker = DevnullMessageBroker(keep_last=1)
>>> asyncio.run(broker.send_message(Message(message_name="a", topic="t", payload={})))
>>> broker.dropped
1
"""

from __future__ import annotations

import collections
import typing

from cqrs.message_brokers.protocol import Message

__all__ = ("DevnullMessageBroker",)


class DevnullMessageBroker:
    """A `MessageBroker` that publishes nowhere."""

    def __init__(self, keep_last: int = 100) -> None:
        self.dropped: int = 0
        self._recent: collections.deque[Message] = collections.deque(maxlen=keep_last)

    @property
    def recent(self) -> typing.Sequence[Message]:
        """The last `keep_last` messages dropped, oldest first."""
        return tuple(self._recent)

    async def send_message(self, message: Message) -> None:
        self.dropped += 1
        self._recent.append(message)
