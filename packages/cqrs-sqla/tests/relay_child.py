"""A relay that publishes one batch and then hangs before marking it, for crash tests.

`python relay_child.py DATABASE_URL OUTBOX_TABLE RECORD_FILE` claims one batch
from the outbox, publishes it to a broker that appends each event id to
RECORD_FILE, writes `END` there once the whole batch is out, and then waits
forever inside the claim (before the rows are marked) until it is killed.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import types

from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.message_brokers.protocol import Message
from cqrs.outbox.models import OutboxedEvent
from cqrs.outbox.relay import OutboxClaim, OutboxRelay, RetryPolicy
from cqrs_sqla.relay import SqlAlchemyOutboxStore
from cqrs_sqla.schema import Schema, TableNames

END = "END"


class RecordingBroker:
    """Appends the id of every message it takes to a file, one per line."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    async def send_message(self, message: Message) -> None:
        with self.path.open("a") as record:
            record.write(f"{message.message_id}\n")


class HangingClaim:
    """A claim that, once its batch is out, announces it and never closes."""

    def __init__(self, inner: OutboxClaim, path: pathlib.Path) -> None:
        self.inner = inner
        self.path = path

    @property
    def rows(self) -> list[OutboxedEvent]:
        return list(self.inner.rows)

    def published(self, row: OutboxedEvent) -> None:
        self.inner.published(row)

    def failed(self, row: OutboxedEvent, error: str) -> None:
        self.inner.failed(row, error)

    async def __aenter__(self) -> HangingClaim:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        with self.path.open("a") as record:
            record.write(f"{END}\n")
        await asyncio.Event().wait()  # published, not marked: the parent kills us here


class HangingStore:
    """Hands out `HangingClaim`s over a real store."""

    def __init__(self, store: SqlAlchemyOutboxStore, path: pathlib.Path) -> None:
        self.store = store
        self.path = path

    def claim(self, limit: int, retry: RetryPolicy) -> HangingClaim:
        return HangingClaim(self.store.claim(limit, retry), self.path)

    async def wait_for_rows(self, timeout: float) -> None:
        await self.store.wait_for_rows(timeout)


async def main(url: str, table: str, path: pathlib.Path) -> None:
    engine = create_async_engine(url)
    store = SqlAlchemyOutboxStore(engine, Schema(TableNames(outbox=table)))
    await OutboxRelay(HangingStore(store, path), RecordingBroker(path), batch_size=1000).run_once()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])))
