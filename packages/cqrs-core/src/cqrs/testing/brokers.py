"""Message brokers that misbehave on purpose, to test what publishes through them.

`FailingBroker` keeps what it accepts, as `InMemoryMessageBroker` does, and
refuses the messages a test picks with a `ConnectionError`, the way a broker
that is down refuses them:

>>> import asyncio
>>> broker = FailingBroker()
>>> broker.refuse(1, where=lambda message: message.message_name == "paid")
>>> async def publish(name: str) -> str:
...     try:
...         await broker.send_message(Message(message_name=name, topic="orders", payload={}))
...     except ConnectionError as error:
...         return str(error)
...     return "sent"
>>> [asyncio.run(publish(name)) for name in ("placed", "paid", "paid")]
['sent', 'broker refused paid', 'sent']
>>> [message.message_name for message in broker.refused]
['paid']

`BatchingBroker` makes any broker double take batches the way a Kafka
producer does. The outbox relay hands a `BatchMessageBroker` its whole batch
at once; to test that path with a double that only has `send_message`, wrap
it: each message is sent through the double in order, and once one of a
key's messages fails, the batch's later messages of that key fail too,
unsent, as a Kafka producer fails a partition's batch.

>>> inner = FailingBroker()
>>> inner.refuse(1, where=lambda message: message.message_name == "bad")
>>> batch = [Message("bad", "t", {}, key="a"), Message("next", "t", {}, key="a"),
...          Message("other", "t", {}, key="b")]
>>> outcomes = asyncio.run(BatchingBroker(inner).send_batch(batch))
>>> [type(outcome).__name__ for outcome in outcomes], [m.message_name for m in inner.messages]
(['ConnectionError', 'ConnectionError', 'NoneType'], ['other'])
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import typing

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message, MessageBroker

__all__ = ("BatchingBroker", "FailingBroker")


@dataclasses.dataclass
class _Refusal:
    """Refuse the next `remaining` messages that `where` accepts."""

    remaining: int
    where: typing.Callable[[Message], bool]


class FailingBroker(InMemoryMessageBroker):
    """An `InMemoryMessageBroker` that refuses chosen messages with `ConnectionError`.

    - `refuse(times, where=...)` refuses the next `times` messages that `where`
      accepts (any message by default); each call adds such a rule.
    - `failure_rate` refuses each message with that probability, drawn from a
      `random.Random(seed)`, so a run can be replayed.
    - `delay` makes every send wait that many seconds before its outcome (0:
      one turn of the event loop), a slow broker, so that publishers running
      at once interleave.

    Accepted messages are in `messages`, refused ones in `refused`.
    """

    def __init__(
        self, *, failure_rate: float = 0.0, seed: int | None = None, delay: float | None = None
    ) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {failure_rate}")
        super().__init__()
        self.failure_rate = failure_rate
        self.delay = delay
        self.refused: list[Message] = []
        self._random = random.Random(seed)
        self._refusals: list[_Refusal] = []

    def refuse(
        self, times: int = 1, *, where: typing.Callable[[Message], bool] | None = None
    ) -> None:
        """Refuse the next `times` messages that `where` accepts (any message without it)."""
        self._refusals.append(_Refusal(times, where or (lambda _message: True)))

    async def send_message(self, message: Message) -> None:
        """Keep `message`, or raise `ConnectionError` if a rule or the failure rate refuses it."""
        if self.delay is not None:
            await asyncio.sleep(self.delay)
        if self._refuses(message):
            self.refused.append(message)
            raise ConnectionError(f"broker refused {message.message_name}")
        await super().send_message(message)

    def _refuses(self, message: Message) -> bool:
        for refusal in self._refusals:
            if refusal.remaining > 0 and refusal.where(message):
                refusal.remaining -= 1
                return True
        return self.failure_rate > 0 and self._random.random() < self.failure_rate


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
