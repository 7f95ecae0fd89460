"""The blog post's hand-written FastStream consumer (EventMediator + FastStream) runs
against a broker, fed by `KafkaMessageBroker`: the record value is the event's wire
dict, which FastStream validates straight into a `NotificationEvent[Payload]` body."""

from __future__ import annotations

import asyncio
import collections.abc
import functools
import typing
import uuid

import di
import faststream
import pydantic
import pytest
from aiokafka import TopicPartition
from faststream import kafka

import cqrs
from cqrs.events import bootstrap
from cqrs.message_brokers.protocol import Message
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.topics import ensure_topics

DEADLINE = 60.0  # seconds


class AccountOpenedPayload(pydantic.BaseModel):
    account_id: str


# FastStream 0.6 deprecates `auto_commit` (the post's option) and then warns that the
# policy it maps to acks like any other: the two warnings that option always gives.
@pytest.mark.filterwarnings("ignore:`auto_commit` option was deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:AckPolicy.REJECT_ON_ERROR has the same effect:UserWarning")
async def test_the_posts_subscriber_hands_the_event_to_the_mediator(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    opened: list[str] = []

    class OnAccountOpened(cqrs.EventHandler[cqrs.NotificationEvent[AccountOpenedPayload]]):
        async def handle(self, event: cqrs.NotificationEvent[AccountOpenedPayload]) -> None:
            opened.append(event.payload.account_id)

    @functools.lru_cache(maxsize=1)
    def mediator_factory() -> cqrs.EventMediator:
        def map_events(mapper: cqrs.EventMap) -> None:
            mapper.bind(cqrs.NotificationEvent[AccountOpenedPayload], OnAccountOpened)

        return bootstrap.bootstrap(di_container=di.Container(), events_mapper=map_events)

    broker = kafka.KafkaBroker(bootstrap_servers=[kafka_bootstrap_servers])
    subscriber = broker.subscriber(
        kafka_topic, group_id=f"svc-{uuid.uuid4().hex[:8]}", auto_commit=False
    )

    @subscriber
    async def on_message(
        body: cqrs.NotificationEvent[AccountOpenedPayload],
        msg: kafka.KafkaMessage,
        mediator: cqrs.EventMediator = faststream.Depends(mediator_factory),  # noqa: B008
    ) -> None:
        await mediator.send(body)
        await msg.ack()

    event = cqrs.NotificationEvent[AccountOpenedPayload](
        event_name="account_opened",
        topic=kafka_topic,
        payload=AccountOpenedPayload(account_id="acc-1"),
    )
    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    await broker.start()
    try:
        # The post's subscriber starts at the end of the topic ("latest"): publish
        # once it holds the partition and knows its position there.
        await _until(lambda: bool(subscriber.consumer and subscriber.consumer.assignment()))
        assert subscriber.consumer is not None
        position = typing.cast(
            "typing.Callable[[TopicPartition], typing.Awaitable[int]]",
            subscriber.consumer.position,  # pyright: ignore[reportUnknownMemberType]  (aiokafka)
        )
        await position(TopicPartition(kafka_topic, 0))
        async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as publisher:
            await publisher.send_message(Message.from_event(event, key="acc-1"))
        await _until(lambda: bool(opened))
    finally:
        await broker.stop()

    assert opened == ["acc-1"]


async def _until(condition: collections.abc.Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {DEADLINE}s")
        await asyncio.sleep(0.02)
