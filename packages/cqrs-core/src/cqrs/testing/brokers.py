"""`BatchingBroker`: any broker double, taking batches the way a Kafka producer does.

The outbox relay hands a `BatchMessageBroker` its whole batch at once. To test
that path with a double that only has `send_message` (one that fails on
purpose, say), wrap it: each message is sent through the double in order,
and once one of a key's messages fails, the batch's later messages of that
key fail too, unsent, as a Kafka producer fails a partition's batch.

>>> import asyncio
>>> from cqrs.message_brokers.memory import InMemoryMessageBroker
>>> class Refusing(InMemoryMessageBroker):
...     async def send_message(self, message: Message) -> None:
...         if message.message_name == "bad":
...             raise ConnectionError("refused")
...         await super().send_message(message)
>>> inner = Refusing()
>>> batch = [Message("bad", "t", {}, key="a"), Message("next", "t", {}, key="a"),
...          Message("other", "t", {}, key="b")]
>>> outcomes = asyncio.run(BatchingBroker(inner).send_batch(batch))
>>> [type(outcome).__name__ for outcome in outcomes], [m.message_name for m in inner.messages]
(['ConnectionError', 'ConnectionError', 'NoneType'], ['other'])
"""

from __future__ import annotations

import typing

from cqrs.message_brokers.protocol import Message, MessageBroker

__all__ = ("BatchingBroker",)


class BatchingBroker:
    """A `BatchMessageBroker` sending each message through `inner`, in order; a key
    whose message failed fails for the rest of the batch (`ConnectionError`)."""

    def __init__(self, inner: MessageBroker) -> None:
        self.inner = inner

    async def send_message(self, message: Message) -> None:
        await self.inner.send_message(message)

    async def send_batch(self, messages: typing.Sequence[Message]) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        failed_keys: set[str] = set()
        for message in messages:
            key = message.key
            try:
                if key is not None and key in failed_keys:
                    raise ConnectionError(f"{message.message_name} not sent: key {key!r} failed")
                await self.inner.send_message(message)
            except Exception as error:
                if key is not None:
                    failed_keys.add(key)
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes
