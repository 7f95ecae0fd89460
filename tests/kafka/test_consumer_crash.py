"""A consumer process killed between its database commit and its offset commit: the
record comes again, the inbox (cqrs-sqla) recognises it, its effect exists once."""

from __future__ import annotations

import asyncio
import collections.abc
import pathlib
import signal
import sys
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.message_brokers.protocol import Message
from cqrs_kafka import KafkaMessageBroker, KafkaProducerAdapter, LocalKafkaBroker
from cqrs_kafka.testing import committed_offset
from cqrs_kafka.topics import ensure_topics
from cqrs_sqla.engine import create_engine
from cqrs_sqla.schema import Schema, create_all
from cqrs_sqla.testing import admin_url

from .consumer_child import PAYMENT_TAKEN, Payment, PaymentTaken, effects_table, schema_for

CHILD = pathlib.Path(__file__).with_name("consumer_child.py")
POSTGRES_URL = admin_url()
DEADLINE = 60.0  # seconds; every wait below ends by then or fails


class Database:
    """The tables of one test, on SQLite or PostgreSQL, and what the consumer wrote."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.engine: AsyncEngine = create_engine(url)
        self.schema: Schema = schema_for(prefix)
        self.effects = effects_table(self.schema, prefix)

    async def effect_ids(self) -> list[uuid.UUID]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(sa.select(self.effects.c.message_id))
            return list(rows.scalars())

    async def inbox_rows(self) -> list[tuple[str, uuid.UUID]]:
        inbox = self.schema.inbox
        async with self.engine.connect() as connection:
            rows = await connection.execute(sa.select(inbox.c.consumer, inbox.c.message_id))
            return [(consumer, message_id) for consumer, message_id in rows]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> collections.abc.AsyncIterator[Database]:
    """Fresh tables: in a SQLite file, or uniquely named on the PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}"
    else:
        url = POSTGRES_URL
    database = Database(url, prefix=f"kafka_crash_{uuid.uuid4().hex[:8]}_")
    await create_all(database.engine, database.schema)
    try:
        yield database
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(database.schema.metadata.drop_all)
        await database.engine.dispose()


async def start_consumer(
    servers: str, topic: str, group: str, database: Database, work_dir: pathlib.Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        servers,
        topic,
        group,
        database.url,
        database.prefix,
        str(work_dir),
        stderr=asyncio.subprocess.PIPE,
    )


async def until_committed(
    servers: str, group: str, topic: str, consumer: asyncio.subprocess.Process
) -> None:
    """Wait until `group` committed offset 1; fail if `consumer` exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while await committed_offset(servers, group, topic) != 1:
        if consumer.returncode is not None:
            _, stderr = await consumer.communicate()
            raise AssertionError(f"the consumer exited early:\n{stderr.decode()}")
        if loop.time() > deadline:
            raise AssertionError(f"{group} did not commit offset 1 in {DEADLINE}s")
        await asyncio.sleep(0.1)


async def test_a_consumer_killed_after_its_commit_gets_the_record_again_and_skips_it(
    database: Database, tmp_path: pathlib.Path
) -> None:
    topic, group = f"payments-{uuid.uuid4().hex[:8]}", f"billing-{uuid.uuid4().hex[:8]}"
    event = PaymentTaken(event_name=PAYMENT_TAKEN, topic=topic, payload=Payment(order_id="o1"))
    with LocalKafkaBroker() as kafka:
        servers = kafka.bootstrap_servers
        await ensure_topics(servers, {topic: 1, f"{topic}.dlq": 1})
        async with KafkaMessageBroker(KafkaProducerAdapter(servers)) as publisher:
            await publisher.send_message(Message.from_event(event, key="o1"))

        first = await start_consumer(servers, topic, group, database, tmp_path)
        _, stderr = await asyncio.wait_for(first.communicate(), DEADLINE)
        assert first.returncode == -signal.SIGKILL, stderr.decode()
        # It died with its transaction committed and the record's offset not.
        assert await database.effect_ids() == [event.event_id]
        assert await committed_offset(servers, group, topic) is None

        second = await start_consumer(servers, topic, group, database, tmp_path)
        try:
            await until_committed(servers, group, topic, second)
        finally:
            if second.returncode is None:
                second.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(second.communicate(), DEADLINE)
        assert second.returncode == 0, stderr.decode()

    transactions = (tmp_path / "transactions.txt").read_text().splitlines()
    assert len(transactions) == 2  # delivered to each process: the record came again
    assert await database.effect_ids() == [event.event_id]  # and its effect happened once
    assert await database.inbox_rows() == [(group, event.event_id)]
