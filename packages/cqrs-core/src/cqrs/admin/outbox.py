"""The outbox's admin port: find the rows the relay gave up on, and replay or discard them.

A row is `dead` once the relay has failed to publish it `max_attempts` times
(`cqrs.outbox.relay.RetryPolicy`). An operator lists dead rows, fixes the
cause, and replays them: a replayed row is pending again, with its attempts
reset and due at once, and the relay publishes it under its original event
id (an inbox that saw it before drops it). A row that should never go out is
discarded with a reason: it stays in the table as `discarded`, never published.

Every action writes an `AuditEntry` with the change. `cqrs.outbox.MemoryOutbox`
implements this port; cqrs-sqla's `SqlAlchemyOutboxAdmin` does on PostgreSQL
and SQLite; `cqrs.testing.outbox_admin` is the contract both pass.

>>> row_cursor(42), after_row(row_cursor(42))
('42', 42)
>>> outbox_target(42), bulk_target("orders"), bulk_target(None)
('outbox/42', 'outbox/topic=orders', 'outbox/*')
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import typing

from cqrs.admin.audit import AuditEntry
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page
from cqrs.exceptions import DeadRowNotFoundError, InvalidAdminRequestError
from cqrs.outbox.models import OutboxedEvent, OutboxStatus

__all__ = (
    "OutboxAdmin",
    "TopicStats",
    "Progress",
    "DEFAULT_REPLAY_BATCH",
    "MAX_ROW_ID",
    "row_cursor",
    "checked_row_id",
    "after_row",
    "outbox_target",
    "bulk_target",
    "topic_stats",
)

#: Rows a bulk replay moves per transaction (and per audit entry).
DEFAULT_REPLAY_BATCH: typing.Final = 500
#: The largest row id (a signed 64-bit column).
MAX_ROW_ID: typing.Final = 2**63 - 1

#: Told the number of rows replayed so far, after each batch of a bulk replay.
Progress = typing.Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class TopicStats:
    """How one topic's outbox rows stand: how many wait, how many are dead, and how
    long the oldest waiting one has waited (`None` when none waits)."""

    topic: str
    pending: int
    dead: int
    oldest_pending_age: datetime.timedelta | None = None


class OutboxAdmin(typing.Protocol):
    """An operator's view of one outbox. Methods that act take the `actor` (who) and
    a `reason` (why) for the audit log, and raise `InvalidAdminRequestError`,
    changing nothing, when either is empty, oversized or holds NUL characters."""

    async def list_dead(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[OutboxedEvent]:
        """Dead rows, oldest (lowest id) first, of `topic` or of every topic.

        Give the `next_cursor` of a page as `cursor` for the page after it. An
        empty page when none is dead. Raises `InvalidAdminRequestError` for a
        cursor it did not hand out or a limit out of 1..`MAX_PAGE_SIZE`.
        """
        ...

    async def stats(self) -> list[TopicStats]:
        """Pending and dead rows per topic, in topic order; topics with neither are left
        out (an empty list when nothing waits and nothing is dead)."""
        ...

    async def replay(self, row_id: int, *, actor: str, reason: str | None = None) -> None:
        """Make dead row `row_id` pending again: attempts reset, due now.

        Raises `DeadRowNotFoundError` when no row with that id is dead.
        """
        ...

    async def replay_all(
        self,
        *,
        topic: str | None = None,
        actor: str,
        reason: str | None = None,
        batch_size: int = DEFAULT_REPLAY_BATCH,
        progress: Progress | None = None,
    ) -> int:
        """Replay the dead rows of `topic` (or of every topic); return how many were
        replayed (0 when none: then nothing is audited either).

        Rows go in id order, `batch_size` per transaction, each batch with its
        own audit entry listing the row ids; `progress` is told the running
        total after each batch. Each row is taken at most once per call (one
        that dies again meanwhile waits for the next call), so the call always
        ends. Raises `InvalidAdminRequestError` for a `batch_size` out of
        1..`MAX_PAGE_SIZE`.
        """
        ...

    async def discard(self, row_id: int, *, actor: str, reason: str) -> None:
        """Mark dead row `row_id` `discarded`: kept, never published. `reason` is required.

        Raises `DeadRowNotFoundError` when no row with that id is dead.
        """
        ...

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest outbox actions, newest first, all or only those on `target`
        (`outbox_target(row_id)`, `bulk_target(topic)`); empty when none."""
        ...


def row_cursor(row: OutboxedEvent | int) -> str:
    """The cursor that pages on after `row` (or the row with that id)."""
    return str(row if isinstance(row, int) else row.id)


def after_row(cursor: str | None) -> int:
    """The id after which the page of `cursor` starts (0: from the first row).

    Raises `InvalidAdminRequestError` for a cursor `row_cursor` did not make.
    """
    if cursor is None:
        return 0
    if isinstance(cursor, str) and cursor.isascii() and cursor.isdigit() and len(cursor) < 20:
        row_id = int(cursor)
        if row_id <= MAX_ROW_ID:
            return row_id
    raise InvalidAdminRequestError(f"cursor {cursor!r} is not one a dead-row page handed out")


def checked_row_id(row_id: int) -> int:
    """`row_id` if an outbox row could have it; else `DeadRowNotFoundError` (no row has
    it), before a database is asked about a number it cannot hold."""
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 1 <= row_id <= MAX_ROW_ID:
        raise DeadRowNotFoundError(row_id)
    return row_id


def outbox_target(row_id: int) -> str:
    """The audit target of one outbox row."""
    return f"outbox/{row_id}"


def bulk_target(topic: str | None) -> str:
    """The audit target of a bulk replay of `topic` (of every topic when `None`)."""
    return "outbox/*" if topic is None else f"outbox/topic={topic}"


def topic_stats(
    counts: typing.Iterable[tuple[str, OutboxStatus, int, datetime.datetime | None]],
    now: datetime.datetime,
) -> list[TopicStats]:
    """`TopicStats` per topic, in topic order, from `(topic, status, rows, oldest
    created_at)` counts of pending and dead rows (other statuses are ignored).

    >>> now = datetime.datetime(2024, 1, 1, 0, 1, tzinfo=datetime.timezone.utc)
    >>> counts = [("orders", OutboxStatus.PENDING, 3, now - datetime.timedelta(seconds=30)),
    ...           ("orders", OutboxStatus.DEAD, 1, now)]
    >>> [orders] = topic_stats(counts, now)
    >>> orders.pending, orders.dead, orders.oldest_pending_age
    (3, 1, datetime.timedelta(seconds=30))
    """
    pending = collections.Counter[str]()
    dead = collections.Counter[str]()
    oldest: dict[str, datetime.datetime] = {}
    for topic, status, rows, created_at in counts:
        if status is OutboxStatus.PENDING:
            pending[topic] += rows
            if created_at is not None and (topic not in oldest or created_at < oldest[topic]):
                oldest[topic] = created_at
        elif status is OutboxStatus.DEAD:
            dead[topic] += rows
    return [
        TopicStats(
            topic,
            pending[topic],
            dead[topic],
            now - oldest[topic] if topic in oldest else None,
        )
        for topic in sorted(pending.keys() | dead.keys())
    ]
