"""`cqrs-admin dead-letters` against the local broker: list a dead letter the consumer's way,
replay it to its original topic once, refuse the second replay unless forced."""

from __future__ import annotations

import asyncio
import json
import typing
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from cqrs_admin.cli import main
from cqrs_kafka.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
)
from cqrs_kafka.testing import read_records
from cqrs_kafka.topics import ensure_topics


async def _dead_letter(servers: str, topic: str) -> None:
    """Keep a record on `<topic>.dlq` as the consumer does when it gives up on it."""
    await ensure_topics(servers, {topic: 1, f"{topic}.dlq": 1})
    headers = {
        "message_id": "9a1f0c0e-5b7e-4a55-9d4e-0f4f1f2d3c4b",
        REASON_HEADER: "no handler for 'weighed'",
        ERROR_HEADER: "cqrs_kafka.decoding.UndecodableRecordError",
        ORIGINAL_TOPIC_HEADER: topic,
        ORIGINAL_PARTITION_HEADER: "0",
        ORIGINAL_OFFSET_HEADER: "12",
        ATTEMPTS_HEADER: "0",
    }
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        send = typing.cast(
            typing.Any,
            producer.send_and_wait,  # pyright: ignore[reportUnknownMemberType]  (aiokafka: untyped)
        )
        await send(
            f"{topic}.dlq",
            b'{"event_name": "weighed"}',
            key=b"p-1",
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
    finally:
        await producer.stop()


def test_a_dead_letter_is_listed_and_replayed_once_unless_forced(
    kafka_bootstrap_servers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"cli.{uuid.uuid4().hex[:8]}.parcels"
    asyncio.run(_dead_letter(kafka_bootstrap_servers, topic))
    options = [
        "--bootstrap-servers",
        kafka_bootstrap_servers,
        "--audit-topic",
        f"{topic}.audit",
        "--actor",
        "dave",
    ]

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, *options])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, listed, _ = run("dead-letters", "list", "--topic", f"{topic}.dlq", "--json")
    assert code == 0
    [letter] = json.loads(listed)["items"]
    assert (letter["original_topic"], letter["original_offset"], letter["key"]) == (
        topic,
        12,
        "p-1",
    )
    assert letter["reason"] == "no handler for 'weighed'"
    where = [letter["topic"], str(letter["partition"]), str(letter["offset"])]

    first = run("dead-letters", "replay", *where, "--reason", "handler deployed")
    second = run("dead-letters", "replay", *where)
    forced = run("dead-letters", "replay", *where, "--force", "--reason", "lost downstream")
    code, audit, _ = run("dead-letters", "audit", "--json")

    assert first[:2] == (0, f"replayed dead letter {'/'.join(where)}\n")
    assert second[0] == 4
    assert "replayed by dave" in second[2]
    assert forced[0] == 0
    replayed = asyncio.run(read_records(kafka_bootstrap_servers, topic, 2))
    assert [(record.key, record.value) for record in replayed] == [
        (b"p-1", b'{"event_name": "weighed"}')
    ] * 2
    headers = dict(replayed[0].headers)
    assert headers["message_id"] == b"9a1f0c0e-5b7e-4a55-9d4e-0f4f1f2d3c4b"
    assert [name for name in headers if name.startswith("x-")] == []
    assert [(entry["actor"], entry["details"]["forced"]) for entry in json.loads(audit)] == [
        ("dave", True),
        ("dave", False),
    ]


def test_an_unreachable_broker_exits_with_5(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dead-letters", "list", "--bootstrap-servers", "127.0.0.1:9"])

    assert code == 5
    assert "no Kafka broker answered" in capsys.readouterr().err
