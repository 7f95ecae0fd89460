"""`KafkaDeadLetterAdmin` against the dead-letter admin contract on a real broker, plus
what only it has: the consumer's headers, the audit topic, records it cannot read."""

from __future__ import annotations

import collections.abc
import typing
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from cqrs.admin.dead_letters import DeadLetterAdmin, DeadLetterId, RawRecord
from cqrs.exceptions import DeadLetterNotReplayableError
from cqrs.testing.clock import FakeClock
from cqrs.testing.dead_letter_admin import DeadLetterAdminContract
from cqrs_kafka.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    OMITTED_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
)
from cqrs_kafka.dead_letter_admin import KafkaDeadLetterAdmin, is_dead_letter_header
from cqrs_kafka.decoding import text_headers
from cqrs_kafka.topics import ensure_topics


async def _produce(
    servers: str, topic: str, value: bytes, key: bytes | None, headers: typing.Mapping[str, str]
) -> DeadLetterId:
    await ensure_topics(servers, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        send = typing.cast(
            typing.Any,
            producer.send_and_wait,  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
        )
        sent = await send(
            topic, value, key=key, headers=[(name, text.encode()) for name, text in headers.items()]
        )
    finally:
        await producer.stop()
    return DeadLetterId(topic, sent.partition, sent.offset)


async def _everything_on(servers: str, topic: str) -> list[RawRecord]:
    """Every record `topic` holds now, partition by partition."""
    consumer = typing.cast(
        typing.Any,
        AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, fetch_max_wait_ms=100),
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        partitions = [
            TopicPartition(topic, n) for n in sorted(consumer.partitions_for_topic(topic))
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[RawRecord] = []
        for where in partitions:
            while await consumer.position(where) < ends[where]:
                batches = await consumer.getmany(where, timeout_ms=1000)
                records += [
                    RawRecord(topic, record.key, record.value, text_headers(record.headers))
                    for record in batches.get(where, [])
                ]
        return records
    finally:
        await consumer.stop()


class TestKafkaDeadLetterAdmin(DeadLetterAdminContract):
    @pytest.fixture
    def topic_prefix(self) -> str:
        return f"admin.{uuid.uuid4().hex[:8]}."

    @pytest.fixture
    async def admin(
        self, clock: FakeClock, topic_prefix: str, kafka_bootstrap_servers: str
    ) -> collections.abc.AsyncIterator[KafkaDeadLetterAdmin]:
        admin = KafkaDeadLetterAdmin(
            kafka_bootstrap_servers,
            topics=[f"{topic_prefix}parcels.dlq", f"{topic_prefix}labels.dlq"],
            audit_topic=f"{topic_prefix}audit",
            clock=clock,
        )
        yield admin
        await admin.close()

    async def keep(
        self,
        admin: DeadLetterAdmin,
        dead_letter_topic: str,
        original: RawRecord,
        *,
        original_partition: int,
        original_offset: int,
        reason: str,
        error: str,
        attempts: int,
    ) -> DeadLetterId:
        assert isinstance(admin, KafkaDeadLetterAdmin)
        await ensure_topics(admin.bootstrap_servers, {original.topic: 1})
        headers = {
            **original.headers,
            REASON_HEADER: reason,
            ERROR_HEADER: error,
            ORIGINAL_TOPIC_HEADER: original.topic,
            ORIGINAL_PARTITION_HEADER: str(original_partition),
            ORIGINAL_OFFSET_HEADER: str(original_offset),
            ATTEMPTS_HEADER: str(attempts),
        }
        return await _produce(
            admin.bootstrap_servers, dead_letter_topic, original.value, original.key, headers
        )

    async def records_on(self, admin: DeadLetterAdmin, topic: str) -> list[RawRecord]:
        assert isinstance(admin, KafkaDeadLetterAdmin)
        return await _everything_on(admin.bootstrap_servers, topic)


@pytest.fixture
def prefix() -> str:
    return f"admin-only.{uuid.uuid4().hex[:8]}."


def test_every_header_the_consumer_adds_is_left_out_of_a_replay() -> None:
    added = [
        REASON_HEADER,
        ERROR_HEADER,
        ORIGINAL_TOPIC_HEADER,
        ORIGINAL_PARTITION_HEADER,
        ORIGINAL_OFFSET_HEADER,
        ATTEMPTS_HEADER,
    ]

    assert [name for name in added if not is_dead_letter_header(name)] == []
    assert not any(map(is_dead_letter_header, ["message_id", "event_name", "traceparent"]))


async def test_the_default_admin_reads_every_dlq_topic_and_not_the_others(
    kafka_bootstrap_servers: str, prefix: str
) -> None:
    headers = {ORIGINAL_TOPIC_HEADER: f"{prefix}orders", REASON_HEADER: "bad"}
    kept = await _produce(kafka_bootstrap_servers, f"{prefix}orders.dlq", b"{}", None, headers)
    await _produce(kafka_bootstrap_servers, f"{prefix}orders", b"{}", None, {})

    async with KafkaDeadLetterAdmin(kafka_bootstrap_servers) as admin:
        ours = await admin.list_dead_letters(topic=f"{prefix}orders.dlq")
        not_a_dead_letter_topic = await admin.list_dead_letters(topic=f"{prefix}orders")

    assert [letter.id for letter in ours.items] == [kept]
    assert list(not_a_dead_letter_topic.items) == []


async def test_a_record_that_does_not_say_where_it_came_from_is_listed_but_not_replayed(
    kafka_bootstrap_servers: str, prefix: str
) -> None:
    topic = f"{prefix}orders.dlq"
    kept = await _produce(kafka_bootstrap_servers, topic, b"raw", b"k", {"x-original-offset": "x"})

    async with KafkaDeadLetterAdmin(kafka_bootstrap_servers, topics=[topic]) as admin:
        [letter] = (await admin.list_dead_letters()).items
        with pytest.raises(DeadLetterNotReplayableError):
            await admin.replay(kept, actor="alice")
        audit = await admin.audit_log()

    assert (letter.original_topic, letter.original_offset, letter.reason) == (None, None, None)
    assert (letter.key, letter.value, dict(letter.headers)) == (b"k", b"raw", {})
    assert audit == []


async def test_a_stray_record_on_the_audit_topic_is_skipped(
    kafka_bootstrap_servers: str, prefix: str
) -> None:
    await _produce(kafka_bootstrap_servers, f"{prefix}audit", b"not json", None, {})

    async with KafkaDeadLetterAdmin(
        kafka_bootstrap_servers, topics=[], audit_topic=f"{prefix}audit"
    ) as admin:
        assert await admin.audit_log() == []


async def test_a_dead_letter_without_its_value_is_replayed_from_the_original_record(
    kafka_bootstrap_servers: str, prefix: str
) -> None:
    original_topic, topic = f"{prefix}orders", f"{prefix}orders.dlq"
    original = await _produce(
        kafka_bootstrap_servers, original_topic, b"the whole value", b"o-1", {"message_id": "m-1"}
    )
    where = {
        ORIGINAL_TOPIC_HEADER: original_topic,
        ORIGINAL_PARTITION_HEADER: str(original.partition),
        ORIGINAL_OFFSET_HEADER: str(original.offset),
    }
    kept = await _produce(
        kafka_bootstrap_servers, topic, b"", b"o-1", {**where, OMITTED_HEADER: "value"}
    )

    async with KafkaDeadLetterAdmin(
        kafka_bootstrap_servers, topics=[topic], audit_topic=f"{prefix}audit"
    ) as admin:
        [letter] = (await admin.list_dead_letters()).items
        await admin.replay(kept, actor="alice")

    assert letter.omitted == ("value",)
    assert (
        await _everything_on(kafka_bootstrap_servers, original_topic)
        == [RawRecord(original_topic, b"o-1", b"the whole value", {"message_id": "m-1"})] * 2
    )


async def test_a_dead_letter_without_its_value_whose_original_is_gone_is_not_replayed(
    kafka_bootstrap_servers: str, prefix: str
) -> None:
    original_topic, topic = f"{prefix}orders", f"{prefix}orders.dlq"
    await ensure_topics(kafka_bootstrap_servers, {original_topic: 1})
    headers = {
        ORIGINAL_TOPIC_HEADER: original_topic,
        ORIGINAL_PARTITION_HEADER: "0",
        ORIGINAL_OFFSET_HEADER: "41",  # never written: as if dropped by retention
        OMITTED_HEADER: "value,headers,key",
    }
    kept = await _produce(kafka_bootstrap_servers, topic, b"", None, headers)

    async with KafkaDeadLetterAdmin(
        kafka_bootstrap_servers, topics=[topic], audit_topic=f"{prefix}audit"
    ) as admin:
        with pytest.raises(DeadLetterNotReplayableError, match="no longer kept"):
            await admin.replay(kept, actor="alice")
        audit = await admin.audit_log()

    assert await _everything_on(kafka_bootstrap_servers, original_topic) == []
    assert audit == []
