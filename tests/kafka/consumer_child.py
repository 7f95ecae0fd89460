"""A consumer process for crash tests: `subscribe_events` with `SqlAlchemyInbox`, whose
handler writes an effect row, and which dies once right after its first commit.

`python consumer_child.py BOOTSTRAP TOPIC GROUP DATABASE_URL TABLE_PREFIX WORK_DIR`
consumes `TOPIC` in consumer group `GROUP`. Each `payment_taken` event inserts
a row into `<TABLE_PREFIX>effects` in the consumer's transaction, whose inbox is
`<TABLE_PREFIX>inbox` (the parent creates both tables). Every transaction the
consumer opens appends a line to `WORK_DIR/transactions.txt`. The first time a
transaction commits (no `WORK_DIR/killed` marker yet), the process creates the
marker and SIGKILLs itself: the effect and the inbox row are committed, the
record's offset is not. Later runs consume normally until SIGTERM.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import os
import pathlib
import signal
import sys

import pydantic
import sqlalchemy as sa
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cqrs.events import EventHandler, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs_kafka.consumer import current_delivery, subscribe_events
from cqrs_sqla.engine import create_engine
from cqrs_sqla.inbox import SqlAlchemyInbox
from cqrs_sqla.schema import Schema, TableNames

PAYMENT_TAKEN = "payment_taken"


class Payment(pydantic.BaseModel):
    order_id: str


PaymentTaken = NotificationEvent[Payment]


def schema_for(prefix: str) -> Schema:
    """The cqrs-sqla tables of one test, named with its prefix."""
    return Schema(TableNames.prefixed(prefix))


def effects_table(schema: Schema, prefix: str) -> sa.Table:
    """One row per time the handler ran: a second row for a message is the bug."""
    return sa.Table(
        f"{prefix}effects",
        schema.metadata,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
    )


def make_handler(effects: sa.Table) -> type[EventHandler[PaymentTaken]]:
    class RecordPayment(EventHandler[PaymentTaken]):
        async def handle(self, event: PaymentTaken) -> None:
            delivery = current_delivery()
            assert delivery.session is not None, "subscribed without a transaction"
            session: AsyncSession = delivery.session
            await session.execute(
                effects.insert().values(
                    message_id=delivery.message_id, order_id=event.payload.order_id
                )
            )

    return RecordPayment


@contextlib.asynccontextmanager
async def dying_after_first_commit(
    sessions: async_sessionmaker[AsyncSession], work_dir: pathlib.Path
) -> collections.abc.AsyncGenerator[AsyncSession, None]:
    with (work_dir / "transactions.txt").open("a") as log:
        log.write("begin\n")
    async with sessions.begin() as session:
        yield session
    marker = work_dir / "killed"
    if not marker.exists():
        marker.touch()
        # Committed, and the consumer has not committed the offset yet: die here.
        os.kill(os.getpid(), signal.SIGKILL)


async def main(
    bootstrap_servers: str, topic: str, group: str, url: str, prefix: str, work_dir: pathlib.Path
) -> None:
    engine = create_engine(url)
    schema = schema_for(prefix)
    handler = make_handler(effects_table(schema, prefix))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    broker = KafkaBroker(bootstrap_servers)
    subscribe_events(
        broker,
        topic,
        group_id=group,
        mediator=bootstrap(events_mapper=lambda events: events.bind(PaymentTaken, handler)),
        events={PAYMENT_TAKEN: PaymentTaken},
        transaction=lambda: dying_after_first_commit(sessions, work_dir),
        inbox=SqlAlchemyInbox(schema),
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()
        await engine.dispose()


if __name__ == "__main__":
    bootstrap_servers, topic, group, url, prefix, work_dir = sys.argv[1:7]
    asyncio.run(main(bootstrap_servers, topic, group, url, prefix, pathlib.Path(work_dir)))
