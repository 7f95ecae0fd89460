"""`MessageBrokerContract` and `BatchMessageBrokerContract`: the tests every
`MessageBroker` (and `BatchMessageBroker`) must pass.

Subclass one in a test module under a name starting with `Test` and give it
a `backend` fixture: a `MessageBrokerBackend` holding the broker and reading
back what reached a topic.

```python
import pytest

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.message_brokers.protocol import Message
from cqrs.testing.message_broker import MessageBrokerBackend, MessageBrokerContract


class MemoryBrokerBackend(MessageBrokerBackend):
    def __init__(self) -> None:
        self.broker = self.memory = InMemoryMessageBroker()

    async def published(self, topic: str, count: int) -> list[Message]:
        return self.memory.topic(topic)[:count]


class TestInMemoryMessageBroker(MessageBrokerContract):
    @pytest.fixture
    def backend(self) -> MemoryBrokerBackend:
        return MemoryBrokerBackend()
```

The suite publishes to the topic of its `topic` fixture, a new name per test
(override it when topics must exist first). It needs pytest and
pytest-asyncio (`pip install 'cqrs-core[testing]'`); see `cqrs.testing.inbox`
for strict mode.
"""

from __future__ import annotations

import abc
import collections
import typing
import uuid

from cqrs.message_brokers.protocol import BatchMessageBroker, Message, MessageBroker
from cqrs.testing._pytest import pytest

__all__ = ("MessageBrokerBackend", "MessageBrokerContract", "BatchMessageBrokerContract")

_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class MessageBrokerBackend(abc.ABC):
    """A broker under test, and how the tests read what it published."""

    #: The broker under test.
    broker: MessageBroker

    @abc.abstractmethod
    async def published(self, topic: str, count: int) -> list[Message]:
        """The first `count` messages published to `topic`, read back as a consumer
        would get them; one key's messages in order (different keys may interleave).
        Fail when fewer than `count` arrive within a generous deadline."""


def _message(topic: str, key: str | None, sequence: int = 0, **headers: str) -> Message:
    payload = {"sequence": sequence, "by": "Zoë Ångström 東京 🚚", "lines": [{"qty": 2.5}]}
    return Message(f"parcel_shipped_{sequence}", topic, payload, uuid.uuid4(), key, headers)


def _sequences_per_key(messages: typing.Iterable[Message]) -> dict[str | None, list[int]]:
    """The sequence numbers of each key's messages, in order; those without a key,
    which have no order to keep, sorted."""
    per_key: dict[str | None, list[int]] = collections.defaultdict(list)
    for message in messages:
        per_key[message.key].append(message.payload["sequence"])
    if None in per_key:
        per_key[None].sort()
    return dict(per_key)


class MessageBrokerContract:
    """The message broker contract as pytest tests; subclass it as `Test...` and
    override the `backend` fixture (see the module docstring)."""

    pytestmark: typing.ClassVar[pytest.MarkDecorator] = pytest.mark.asyncio

    @pytest.fixture
    def topic(self) -> str:
        """A topic no other test publishes to."""
        return f"cqrs-contract-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def backend(self) -> MessageBrokerBackend:
        """Override: the backend of the broker under test."""
        raise NotImplementedError(f"{type(self).__name__} must override the `backend` fixture")

    async def test_the_broker_implements_the_port(self, backend: MessageBrokerBackend) -> None:
        assert isinstance(backend.broker, MessageBroker)

    async def test_a_message_arrives_with_its_id_name_payload_key_and_headers(
        self, backend: MessageBrokerBackend, topic: str
    ) -> None:
        sent = _message(topic, "p-1", traceparent=_TRACEPARENT, tracestate="vendor=1")

        await backend.broker.send_message(sent)

        assert await backend.published(topic, 1) == [sent]

    async def test_a_message_without_a_key_arrives_without_one(
        self, backend: MessageBrokerBackend, topic: str
    ) -> None:
        await backend.broker.send_message(_message(topic, None))

        [received] = await backend.published(topic, 1)
        assert received.key is None

    async def test_one_keys_messages_arrive_in_the_order_sent(
        self, backend: MessageBrokerBackend, topic: str
    ) -> None:
        sent = [_message(topic, f"p-{n % 3}", n) for n in range(12)]

        for message in sent:
            await backend.broker.send_message(message)

        received = await backend.published(topic, len(sent))
        assert _sequences_per_key(received) == _sequences_per_key(sent)

    async def test_each_message_goes_to_its_own_topic(
        self, backend: MessageBrokerBackend, topic: str
    ) -> None:
        other_topic = f"{topic}-other"
        here, there = _message(topic, "p-1", 1), _message(other_topic, "p-1", 2)

        await backend.broker.send_message(here)
        await backend.broker.send_message(there)

        assert await backend.published(other_topic, 1) == [there]
        assert await backend.published(topic, 1) == [here]


class BatchMessageBrokerContract(MessageBrokerContract):
    """`MessageBrokerContract` plus the tests of `send_batch`."""

    async def test_the_broker_implements_the_batch_port(
        self, backend: MessageBrokerBackend
    ) -> None:
        assert isinstance(backend.broker, BatchMessageBroker)

    async def test_a_batch_arrives_whole_one_keys_messages_in_order(
        self, backend: MessageBrokerBackend, topic: str
    ) -> None:
        broker = typing.cast(BatchMessageBroker, backend.broker)
        sent = [_message(topic, f"p-{n % 4}" if n % 5 else None, n) for n in range(40)]

        outcomes = await broker.send_batch(sent)

        assert list(outcomes) == [None] * len(sent)
        received = await backend.published(topic, len(sent))
        assert sorted(m.message_id for m in received) == sorted(m.message_id for m in sent)
        assert _sequences_per_key(received) == _sequences_per_key(sent)

    async def test_an_empty_batch_has_no_outcomes(self, backend: MessageBrokerBackend) -> None:
        broker = typing.cast(BatchMessageBroker, backend.broker)

        assert list(await broker.send_batch([])) == []
