"""`KafkaMessageBroker`: cqrs's `MessageBroker` (and `BatchMessageBroker`) on Kafka.

A `Message` becomes one Kafka record:

- value: the event's wire dict as UTF-8 JSON, so a FastStream subscriber can
  take it as a `NotificationEvent[Payload]` body directly;
- key: the message's partition key (for example the order id), so one
  aggregate's events land on one partition, in order;
- headers: `message_id` (the event id; FastStream reads it as the message's
  id), `event_name`, `content-type: application/json`, and the W3C
  `traceparent`/`tracestate` of the writer (or of the current span).

With a `keyring` (`cqrs.signing.Keyring`, e.g. `Keyring.from_env()`), each
record also carries its signature headers, computed as it is sent (the outbox
stores nothing secret); consumers given the keyring refuse unsigned records.

`send_message` waits for the broker's acknowledgement. `send_batch`, which the
outbox relay uses, enqueues a whole batch and then waits for all of it at
once.

>>> from cqrs.message_brokers.protocol import BatchMessageBroker
>>> from cqrs_kafka.producer import kafka_producer_factory
>>> broker = KafkaMessageBroker(producer=kafka_producer_factory(dsn="localhost:9092"))
>>> isinstance(broker, BatchMessageBroker)
True
"""

from __future__ import annotations

import asyncio
import logging
import typing

from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from cqrs.message_brokers.protocol import (
    EVENT_NAME_HEADER,
    MESSAGE_ID_HEADER,
    Message,
    payload_json,
)
from cqrs.signing import Keyring
from cqrs.tracing import trace_headers
from cqrs_kafka.errors import PublishError
from cqrs_kafka.producer import Header, KafkaProducerAdapter

__all__ = ("KafkaMessageBroker", "record_headers", "record_value")

#: Header names written on every record, besides `MESSAGE_ID_HEADER` and `EVENT_NAME_HEADER`.
CONTENT_TYPE_HEADER = "content-type"
CONTENT_TYPE = "application/json"

_CONTENT_TYPE_PAIR: Header = (CONTENT_TYPE_HEADER, CONTENT_TYPE.encode())


def record_value(message: Message) -> bytes:
    """The record value: the message payload as UTF-8 JSON (compact, or as stored
    for a message read back from the outbox, whose `body` goes out unchanged)."""
    if message.body is not None:
        return message.body
    return payload_json(message.payload)


def record_headers(
    message: Message, current_trace: typing.Mapping[str, str] | None = None
) -> list[Header]:
    """The record headers of `message` (id, event name, content type, trace context).

    A message read from the outbox carries its writer's trace context; any
    other gets `current_trace`, by default the current span's (`trace_headers()`).
    Building many records at once, look it up once and pass it.

    >>> import uuid
    >>> message = Message("joined", "users", {"user_id": "u1"}, uuid.UUID(int=1), key="u1")
    >>> for name, value in record_headers(message, current_trace={}):
    ...     print(name, value)
    message_id b'00000000-0000-0000-0000-000000000001'
    event_name b'joined'
    content-type b'application/json'
    """
    headers: list[Header] = [
        (MESSAGE_ID_HEADER, str(message.message_id).encode()),
        (EVENT_NAME_HEADER, message.message_name.encode()),
        _CONTENT_TYPE_PAIR,
    ]
    extra = message.headers
    if "traceparent" not in extra:
        trace = trace_headers() if current_trace is None else current_trace
        if trace:
            extra = {**extra, **trace}
    if extra:
        headers += [(name, value.encode()) for name, value in extra.items()]
    return headers


class KafkaMessageBroker:
    """Publishes `Message`s through a `KafkaProducerAdapter`.

    `log_level` (for example `"DEBUG"`; python-cqrs called it
    `aiokafka_log_level`, accepted too), when given, is set on aiokafka's
    loggers. `keyring`, when given, signs every record (`cqrs.signing`). Use
    the broker as an async context manager, or call `close()`, to flush and
    disconnect.
    """

    def __init__(
        self,
        producer: KafkaProducerAdapter,
        log_level: str | int | None = None,
        *,
        aiokafka_log_level: str | int | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.producer = producer
        self.keyring: Keyring | None = keyring
        log_level = log_level if log_level is not None else aiokafka_log_level
        if log_level is not None:
            logging.getLogger("aiokafka").setLevel(log_level)

    async def _enqueue(
        self, message: Message, current_trace: typing.Mapping[str, str] | None = None
    ) -> asyncio.Future[RecordMetadata]:
        value = record_value(message)
        key = None if message.key is None else message.key.encode()
        headers = record_headers(message, current_trace)
        if self.keyring is not None:
            signature = self.keyring.sign(value, key, {n: v.decode() for n, v in headers})
            headers += [(name, text.encode()) for name, text in signature.items()]
        return await self.producer.enqueue(message.topic, value, key=key, headers=headers)

    async def send_message(self, message: Message) -> None:
        """Publish `message` and wait until the broker has it; `PublishError` if not."""
        try:
            await (await self._enqueue(message))
        except KafkaError as exc:
            raise _publish_error(message, exc) from exc

    async def send_batch(self, messages: typing.Sequence[Message]) -> list[BaseException | None]:
        """Enqueue every message, then wait for all; one outcome per message, in order.

        A message that could not even be enqueued (too large, say) fails, and so
        do the later messages of its key, which are not sent: their order holds.
        `BrokerUnavailableError` (no broker at start) is raised, not returned, so
        the relay leaves the batch pending without counting an attempt.
        """
        pending: list[asyncio.Future[RecordMetadata] | BaseException] = []
        failed_keys: set[str] = set()
        # One span for the whole batch: looking it up per message was a fifth of the cost.
        current_trace = trace_headers()
        for message in messages:
            if message.key is not None and message.key in failed_keys:
                pending.append(
                    PublishError(f"not sent: an earlier message with key {message.key!r} failed")
                )
                continue
            try:
                pending.append(await self._enqueue(message, current_trace))
            except KafkaError as exc:
                pending.append(_publish_error(message, exc))
                if message.key is not None:
                    failed_keys.add(message.key)
        outcomes: list[BaseException | None] = []
        for message, item in zip(messages, pending, strict=True):
            if isinstance(item, BaseException):
                outcomes.append(item)
                continue
            try:
                await item
            except KafkaError as exc:
                outcomes.append(_publish_error(message, exc))
            else:
                outcomes.append(None)
        return outcomes

    async def close(self) -> None:
        """Flush buffered records and disconnect."""
        await self.producer.stop()

    async def __aenter__(self) -> KafkaMessageBroker:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _publish_error(message: Message, exc: BaseException) -> PublishError:
    return PublishError(
        f"{message.message_name} ({message.message_id}) was not published to "
        f"{message.topic!r}: {type(exc).__name__}: {exc}"
    )
