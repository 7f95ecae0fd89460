"""The documented import paths and call forms of the Kafka broker, against a real broker."""

from __future__ import annotations

import di
import pydantic

import cqrs
from cqrs.adapters import kafka as kafka_adapters
from cqrs.adapters.kafka import KafkaProducerAdapter
from cqrs.message_brokers import kafka
from cqrs.outbox.memory import MemoryOutbox
from cqrs.requests import bootstrap
from cqrs.testing import registered_outbox_events
from cqrs_kafka.testing import json_value, read_records


class Joined(pydantic.BaseModel, frozen=True):
    user_id: str
    meeting_id: str


def joined(topic: str, user_id: str = "u1") -> cqrs.NotificationEvent[Joined]:
    return cqrs.NotificationEvent[Joined](
        event_name="user_joined", topic=topic, payload=Joined(user_id=user_id, meeting_id="m1")
    )


def test_the_core_paths_re_export_cqrs_kafka() -> None:
    import cqrs_kafka

    assert kafka.KafkaMessageBroker is cqrs_kafka.KafkaMessageBroker
    assert kafka_adapters.kafka_producer_factory is cqrs_kafka.kafka_producer_factory
    assert KafkaProducerAdapter is cqrs_kafka.KafkaProducerAdapter


async def test_the_outbox_loop_publishes_through_the_documented_broker(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    broker = kafka.KafkaMessageBroker(
        producer=kafka_adapters.kafka_producer_factory(dsn=kafka_bootstrap_servers),
    )
    outbox = MemoryOutbox()
    producer = cqrs.EventProducer(message_broker=broker, repository=outbox)
    with registered_outbox_events({"user_joined": cqrs.NotificationEvent[Joined]}):
        async with outbox as session:
            outbox.add(session, joined(kafka_topic), key="m1")
            await outbox.commit(session)

        async for events in producer.event_batch_generator():
            for event in events:
                await producer.send_message(event)
            await producer.repository.commit()
            break
    await broker.close()

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert record.key == b"m1"
    assert json_value(record)["payload"] == {"user_id": "u1", "meeting_id": "m1"}


async def test_the_positional_form_with_a_log_level_and_topics(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    producer = kafka_adapters.kafka_producer_factory(
        dsn=kafka_bootstrap_servers, topics=[kafka_topic]
    )
    broker = kafka.KafkaMessageBroker(producer, "DEBUG")

    await broker.send_message(cqrs.Message.from_event(joined(kafka_topic)))
    await broker.close()

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert dict(record.headers)["event_name"] == b"user_joined"


class JoinMeeting(cqrs.Request):
    user_id: str
    topic: str


class JoinMeetingHandler(cqrs.RequestHandler[JoinMeeting, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: JoinMeeting) -> None:
        self._events.append(joined(request.topic, request.user_id))


async def test_events_from_handlers_reach_kafka_through_the_request_bootstrap(
    kafka_bootstrap_servers: str, kafka_topic: str
) -> None:
    kafka_broker = kafka.KafkaMessageBroker(
        producer=KafkaProducerAdapter(bootstrap_servers=[kafka_bootstrap_servers]),
    )
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        commands_mapper=lambda m: m.bind(JoinMeeting, JoinMeetingHandler),
        message_broker=kafka_broker,
    )

    await mediator.send(JoinMeeting(user_id="u7", topic=kafka_topic))
    await kafka_broker.close()

    (record,) = await read_records(kafka_bootstrap_servers, kafka_topic, 1)
    assert json_value(record)["payload"]["user_id"] == "u7"
