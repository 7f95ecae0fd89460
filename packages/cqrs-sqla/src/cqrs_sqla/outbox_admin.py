"""`SqlAlchemyOutboxAdmin`: the outbox's admin port (`cqrs.admin.OutboxAdmin`) on the SQL
outbox, PostgreSQL and SQLite.

It is built on the relay's `SqlAlchemyOutboxStore` (its engine, tables, clock
and compressor, its `dead_rows` and `replay_rows`). Each action is one
transaction that also inserts its audit entry into the schema's audit table,
so the change and the record of who made it commit together or not at all;
a bulk replay is one such transaction per batch. Replayed rows wake the
relays on PostgreSQL (`NOTIFY`), as new rows do.

```python
store = SqlAlchemyOutboxStore(engine, schema)
admin = SqlAlchemyOutboxAdmin(store)
for row in (await admin.list_dead(topic="orders")).items:
    await admin.replay(row.id, actor="alice", reason="schema fixed in v42")
```
"""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from cqrs.admin.audit import AdminAction, AuditEntry, audit_entry, check_note
from cqrs.admin.checks import checked_topic
from cqrs.admin.outbox import (
    DEFAULT_REPLAY_BATCH,
    Progress,
    TopicStats,
    after_row,
    bulk_target,
    checked_row_id,
    outbox_target,
    row_cursor,
    topic_stats,
)
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page, check_page_size, page_of
from cqrs.exceptions import DeadRowNotFoundError
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs_sqla.audit import audit_entry_of, audit_query, audit_values
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.relay import SqlAlchemyOutboxStore

__all__ = ("SqlAlchemyOutboxAdmin",)

_STATUSES: typing.Final = {status.value: status for status in OutboxStatus}


class SqlAlchemyOutboxAdmin:
    """`cqrs.admin.OutboxAdmin` on the outbox table of `store`, auditing into the
    audit table of the same schema."""

    def __init__(self, store: SqlAlchemyOutboxStore) -> None:
        self.store = store
        self._outbox = store.schema.outbox
        self._audit = store.schema.audit

    @maps_driver_errors
    async def list_dead(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[OutboxedEvent]:
        """Dead rows, oldest first, of `topic` or of every topic (see `OutboxAdmin`)."""
        rows = await self.store.dead_rows(
            check_page_size(limit) + 1, topic=checked_topic(topic), after=after_row(cursor)
        )
        return page_of(rows, limit, row_cursor)

    @maps_driver_errors
    async def stats(self) -> list[TopicStats]:
        """Pending and dead rows per topic, in one grouped query (see `OutboxAdmin`)."""
        outbox = self._outbox
        query = (
            sa.select(
                outbox.c.topic, outbox.c.status, sa.func.count(), sa.func.min(outbox.c.created_at)
            )
            .where(outbox.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.DEAD.value]))
            .group_by(outbox.c.topic, outbox.c.status)
        )
        async with self.store.engine.connect() as connection:
            counts = [
                (topic, _STATUSES[status], rows, oldest)
                for topic, status, rows, oldest in await connection.execute(query)
            ]
        return topic_stats(counts, self.store.clock())

    @maps_driver_errors
    async def replay(self, row_id: int, *, actor: str, reason: str | None = None) -> None:
        """Make dead row `row_id` pending again, with its audit entry (see `OutboxAdmin`)."""
        entry = audit_entry(
            self.store.clock(),
            AdminAction.OUTBOX_REPLAY,
            outbox_target(row_id),
            actor=actor,
            reason=reason,
        )
        async with self.store.engine.begin() as connection:
            if not await self.store.replay_rows(connection, [checked_row_id(row_id)]):
                raise DeadRowNotFoundError(row_id)
            await self._record(connection, entry)

    @maps_driver_errors
    async def replay_all(
        self,
        *,
        topic: str | None = None,
        actor: str,
        reason: str | None = None,
        batch_size: int = DEFAULT_REPLAY_BATCH,
        progress: Progress | None = None,
    ) -> int:
        """Replay the dead rows of `topic` in id order, one transaction per batch (see
        `OutboxAdmin`)."""
        topic = checked_topic(topic)
        check_page_size(batch_size)
        check_note(actor, reason)
        replayed, after = 0, 0
        while batch := await self.store.dead_rows(batch_size, topic=topic, after=after):
            ids = [row.id for row in batch]
            async with self.store.engine.begin() as connection:
                # A row discarded or replayed meanwhile is not dead any more: only the
                # rows the UPDATE took count, and the audit entry lists those.
                taken = await self.store.replay_rows(connection, ids)
                if taken:
                    await self._record(
                        connection,
                        audit_entry(
                            self.store.clock(),
                            AdminAction.OUTBOX_REPLAY_ALL,
                            bulk_target(topic),
                            actor=actor,
                            reason=reason,
                            details={"rows": list[typing.Any](taken)},
                        ),
                    )
            replayed, after = replayed + len(taken), ids[-1]
            if progress is not None and taken:
                progress(replayed)
        return replayed

    @maps_driver_errors
    async def discard(self, row_id: int, *, actor: str, reason: str) -> None:
        """Mark dead row `row_id` `discarded`, with its audit entry (see `OutboxAdmin`)."""
        entry = audit_entry(
            self.store.clock(),
            AdminAction.OUTBOX_DISCARD,
            outbox_target(row_id),
            actor=actor,
            reason=reason,
            reason_required=True,
        )
        outbox = self._outbox
        discard = (
            outbox.update()
            .where(
                outbox.c.id == checked_row_id(row_id), outbox.c.status == OutboxStatus.DEAD.value
            )
            .values(status=OutboxStatus.DISCARDED.value)
        )
        async with self.store.engine.begin() as connection:
            if (await connection.execute(discard)).rowcount == 0:
                raise DeadRowNotFoundError(row_id)
            await self._record(connection, entry)

    @maps_driver_errors
    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest outbox actions, newest first (see `OutboxAdmin`)."""
        query = audit_query(self._audit, "outbox", target, limit)
        async with self.store.engine.connect() as connection:
            return [audit_entry_of(row) for row in (await connection.execute(query)).mappings()]

    async def _record(self, connection: AsyncConnection, entry: AuditEntry) -> None:
        await connection.execute(self._audit.insert().values(audit_values(entry)))
