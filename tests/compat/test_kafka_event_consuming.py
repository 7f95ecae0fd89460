"""python-cqrs `examples/kafka_event_consuming.py` and the README's "Kafka events consuming":
a FastStream subscriber reads records with `cqrs.deserializers.JsonDeserializer` as its
value deserializer and hands each event to the event mediator, on the local broker."""

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
from cqrs.deserializers import DeserializeJsonError, JsonDeserializer
from cqrs.events import bootstrap
from cqrs.message_brokers.protocol import Message
from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory
from cqrs_kafka.topics import ensure_topics

DEADLINE = 60.0  # seconds; a hang guard, not a wait for work


class HelloWorldPayload(pydantic.BaseModel):
    hello: str = pydantic.Field(default="Hello")
    world: str = pydantic.Field(default="World")


HelloWorld = cqrs.NotificationEvent[HelloWorldPayload]
GREETINGS: list[str] = []


class HelloWorldECSTEventHandler(cqrs.EventHandler[HelloWorld]):
    async def handle(self, event: HelloWorld) -> None:
        GREETINGS.append(f"{event.payload.hello} {event.payload.world}")


@functools.lru_cache(maxsize=1)
def mediator_factory() -> cqrs.EventMediator:
    return bootstrap.bootstrap(
        di_container=di.Container(),
        events_mapper=lambda mapper: mapper.bind(HelloWorld, HelloWorldECSTEventHandler),
    )


value_deserializer = JsonDeserializer(HelloWorld)


async def decoder(msg: kafka.KafkaMessage) -> HelloWorld | None:
    # The record value is already an event (or an error to drop) after the deserializer.
    body: object = msg.body
    return typing.cast(HelloWorld, body) if isinstance(body, cqrs.NotificationEvent) else None


# FastStream 0.6 deprecates `auto_commit` (the README's option) and then warns that the
# policy it maps to acks like any other: the two warnings that option always gives.
@pytest.mark.filterwarnings("ignore:`auto_commit` option was deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:AckPolicy.REJECT_ON_ERROR has the same effect:UserWarning")
async def test_records_reach_the_handler_and_a_bad_one_is_skipped(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    GREETINGS.clear()
    broker = kafka.KafkaBroker(bootstrap_servers=[kafka_bootstrap_servers])
    subscriber = broker.subscriber(
        kafka_topic,
        group_id=f"examples-{uuid.uuid4().hex[:8]}",
        auto_commit=False,
        value_deserializer=value_deserializer,
        decoder=decoder,
    )

    @subscriber
    async def hello_world_event_handler(
        body: HelloWorld | None,
        msg: kafka.KafkaMessage,
        mediator: cqrs.EventMediator = faststream.Depends(mediator_factory),  # noqa: B008
    ) -> None:
        if body is not None:
            await mediator.send(body)
        await msg.ack()

    await ensure_topics(kafka_bootstrap_servers, {kafka_topic: 1})
    await broker.start()
    try:
        await until(lambda: bool(subscriber.consumer and subscriber.consumer.assignment()))
        assert subscriber.consumer is not None
        position = typing.cast(
            "typing.Callable[[TopicPartition], typing.Awaitable[int]]",
            subscriber.consumer.position,  # pyright: ignore[reportUnknownMemberType]  (aiokafka)
        )
        await position(TopicPartition(kafka_topic, 0))
        async with KafkaMessageBroker(kafka_producer_factory(kafka_bootstrap_servers)) as out:
            await out.send_message(
                Message(message_name="garbage", topic=kafka_topic, payload={"not": "an event"})
            )
            await out.send_message(
                Message.from_event(
                    HelloWorld(event_name="hello", topic=kafka_topic, payload=HelloWorldPayload())
                )
            )
        await until(lambda: bool(GREETINGS))
    finally:
        await broker.stop()

    assert GREETINGS == ["Hello World"]


def test_the_deserializer_reports_what_it_could_not_read() -> None:
    error = value_deserializer(b'{"payload": {}}')

    assert isinstance(error, DeserializeJsonError)
    assert error.message_data == b'{"payload": {}}'
    assert value_deserializer(None) is None


async def until(condition: collections.abc.Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {DEADLINE}s")
        await asyncio.sleep(0.02)
