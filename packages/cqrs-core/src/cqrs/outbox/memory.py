"""`MemoryOutbox`: the outbox in process memory, for tests and single-process use.

It keeps the transactional contract: events added in a session appear only
when that session commits, and vanish on rollback or on leaving the `async
with` block without committing.

>>> import asyncio, pydantic
>>> from cqrs.events.event import NotificationEvent
>>> from cqrs.outbox.map import OutboxedEventMap
>>> class Left(pydantic.BaseModel):
...     user_id: str
>>> OutboxedEventMap.register("memory_doc_left", NotificationEvent[Left])
>>> outbox = MemoryOutbox()
>>> async def leave_without_commit() -> None:
...     async with outbox as session:
...         outbox.add(session, NotificationEvent[Left](
...             event_name="memory_doc_left", topic="users", payload=Left(user_id="u1")))
>>> asyncio.run(leave_without_commit())
>>> outbox.rows()
[]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import itertools
import types
import typing

import pydantic

from cqrs.admin.audit import AdminAction, AuditEntry, audit_entry, check_note, newest_first
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
from cqrs.clock import utc_now
from cqrs.events.event import NotificationEvent
from cqrs.exceptions import ConfigurationError, DeadRowNotFoundError
from cqrs.message_brokers.protocol import Message, payload_json
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.relay import OutboxClaim, RetryPolicy, publishable
from cqrs.outbox.repository import DEFAULT_MAX_MESSAGE_BYTES, check_message_size, outbox_message
from cqrs.outbox.sessions import OpenSessions

__all__ = ("MemoryOutbox", "MemoryOutboxSession")


@dataclasses.dataclass
class MemoryOutboxSession:
    """One open transaction: the messages it staged."""

    staged: list[Message] = dataclasses.field(default_factory=lambda: list[Message]())


class MemoryOutbox:
    """`OutboxedEventRepository`, `RetainingOutboxStore` and `cqrs.admin.OutboxAdmin` over
    a dict; `rows()` shows what was committed. Handlers and relays on one event loop
    share it safely: each task's `async with outbox` block has its own session
    (`OpenSessions`).

    `add` refuses an event whose payload JSON and key come to more than
    `max_message_bytes` (`EventTooLargeError`), as the SQL outbox does.
    """

    def __init__(
        self,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._clock = clock
        self.max_message_bytes = max_message_bytes
        self._rows: dict[int, OutboxedEvent] = {}  # by id, in id order
        self._last_id = 0
        self._published_at: dict[int, datetime.datetime] = {}
        self._sessions = OpenSessions[MemoryOutboxSession]()
        self._held: set[int] = set()  # row ids claimed by a relay right now
        self._audit: list[AuditEntry] = []  # the admin actions on these rows, oldest first
        self._new_rows = asyncio.Event()

    async def __aenter__(self) -> MemoryOutboxSession:
        session = MemoryOutboxSession()
        self._sessions.push(session)
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        session = self._sessions.pop()
        if session is not None:
            session.staged.clear()  # what was not committed is dropped with the block

    def add(
        self,
        session: MemoryOutboxSession,
        event: NotificationEvent[typing.Any],
        *,
        key: str | None = None,
    ) -> None:
        message = outbox_message(event, key)
        check_message_size(message, payload_json(message.payload), self.max_message_bytes)
        session.staged.append(message)

    async def commit(self, session: MemoryOutboxSession | None = None) -> None:
        session = self._open(session)
        self.stage(session.staged)
        session.staged.clear()

    async def rollback(self, session: MemoryOutboxSession | None = None) -> None:
        self._open(session).staged.clear()

    def stage(self, messages: typing.Iterable[Message]) -> None:
        """Store `messages` at once, as part of a write the caller makes atomic.

        Saga storages call this in the same step as the saga state they record.
        """
        now = self._clock()
        for message in messages:
            self._last_id += 1
            self._rows[self._last_id] = OutboxedEvent(self._last_id, message, now)
        self._new_rows.set()

    def claim(self, limit: int, retry: RetryPolicy) -> OutboxClaim:
        """A batch of due rows for a relay (see `cqrs.outbox.relay.OutboxStore`)."""
        now = self._clock()
        candidates = [
            row
            for row in self._rows.values()
            if row.status is OutboxStatus.PENDING
            and row.id not in self._held
            and (row.next_attempt_at is None or row.next_attempt_at <= now)
        ][:limit]
        last = candidates[-1].id if candidates else 0
        pending_by_key: dict[str, list[int]] = collections.defaultdict(list)
        for row in self._rows.values():
            if row.id > last:
                break
            if row.status is OutboxStatus.PENDING and row.message.key is not None:
                pending_by_key[row.message.key].append(row.id)
        rows = publishable(candidates, pending_by_key)
        self._held.update(row.id for row in rows)
        return _MemoryClaim(self, rows, retry)

    async def wait_for_rows(self, timeout: float) -> None:
        """Return when rows were committed since the last call, or after `timeout`."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._new_rows.wait(), timeout)
        self._new_rows.clear()

    def replay_dead(self) -> int:
        """Make every dead row pending again, due now; return how many."""
        return len(self._replay(self.rows(OutboxStatus.DEAD)))

    # -- the admin port: cqrs.admin.outbox.OutboxAdmin ---------------------------

    async def list_dead(
        self,
        *,
        topic: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[OutboxedEvent]:
        """Dead rows, oldest first, of `topic` or of every topic (see `OutboxAdmin`)."""
        check_page_size(limit)
        return page_of(
            self._dead_after(after_row(cursor), checked_topic(topic), limit + 1), limit, row_cursor
        )

    async def stats(self) -> list[TopicStats]:
        """Pending and dead rows per topic (see `OutboxAdmin`)."""
        counts = [(row.message.topic, row.status, 1, row.created_at) for row in self._rows.values()]
        return topic_stats(counts, self._clock())

    async def replay(self, row_id: int, *, actor: str, reason: str | None = None) -> None:
        """Make dead row `row_id` pending again (see `OutboxAdmin`)."""
        entry = audit_entry(
            self._clock(),
            AdminAction.OUTBOX_REPLAY,
            outbox_target(row_id),
            actor=actor,
            reason=reason,
        )
        self._replay([self._dead_row(row_id)])
        self._audit.append(entry)

    async def replay_all(
        self,
        *,
        topic: str | None = None,
        actor: str,
        reason: str | None = None,
        batch_size: int = DEFAULT_REPLAY_BATCH,
        progress: Progress | None = None,
    ) -> int:
        """Replay the dead rows of `topic`, batch by batch (see `OutboxAdmin`)."""
        topic = checked_topic(topic)
        check_page_size(batch_size)
        target = bulk_target(topic)
        check_note(actor, reason)
        replayed, after = 0, 0
        while batch := self._dead_after(after, topic, batch_size):
            ids = self._replay(batch)
            self._audit.append(
                audit_entry(
                    self._clock(),
                    AdminAction.OUTBOX_REPLAY_ALL,
                    target,
                    actor=actor,
                    reason=reason,
                    details={"rows": list[pydantic.JsonValue](ids)},
                )
            )
            replayed, after = replayed + len(ids), ids[-1]
            if progress is not None:
                progress(replayed)
        return replayed

    async def discard(self, row_id: int, *, actor: str, reason: str) -> None:
        """Mark dead row `row_id` discarded (see `OutboxAdmin`)."""
        entry = audit_entry(
            self._clock(),
            AdminAction.OUTBOX_DISCARD,
            outbox_target(row_id),
            actor=actor,
            reason=reason,
            reason_required=True,
        )
        self._replace(self._dead_row(row_id), status=OutboxStatus.DISCARDED)
        self._audit.append(entry)

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest outbox actions, newest first (see `OutboxAdmin`)."""
        return newest_first(self._audit, target=target, limit=limit)

    def _dead_after(self, after: int, topic: str | None, limit: int) -> list[OutboxedEvent]:
        dead = (
            row
            for row in self._rows.values()
            if row.id > after
            and row.status is OutboxStatus.DEAD
            and topic in (None, row.message.topic)
        )
        return list(itertools.islice(dead, limit))

    def _dead_row(self, row_id: int) -> OutboxedEvent:
        checked_row_id(row_id)
        row = self._rows.get(row_id)
        if row is not None and row.status is OutboxStatus.DEAD:
            return row
        raise DeadRowNotFoundError(row_id)

    def _replay(self, rows: list[OutboxedEvent]) -> list[int]:
        """Make `rows` pending again, due now, attempts reset; return their ids."""
        for row in rows:
            self._replace(row, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None)
        if rows:
            self._new_rows.set()
        return [row.id for row in rows]

    async def purge_published(self, older_than: datetime.datetime) -> int:
        """Delete the rows published before `older_than`; return how many."""
        old = [row_id for row_id, at in self._published_at.items() if at < older_than]
        for row_id in old:
            del self._rows[row_id], self._published_at[row_id]
        return len(old)

    def _replace(self, row: OutboxedEvent, **changes: typing.Any) -> None:
        self._rows[row.id] = dataclasses.replace(row, **changes)

    def rows(self, status: OutboxStatus | None = None) -> list[OutboxedEvent]:
        """Committed rows in write order, optionally only those in `status`."""
        return [row for row in self._rows.values() if status is None or row.status is status]

    def messages(self, topic: str | None = None) -> list[Message]:
        """Committed messages in write order, optionally only those for `topic`."""
        return [
            row.message
            for row in self._rows.values()
            if topic is None or row.message.topic == topic
        ]

    def _close_claim(self, claim: _MemoryClaim, mark: bool) -> None:
        self._held.difference_update(row.id for row in claim.rows)
        if not mark:
            return
        now = self._clock()
        for row in claim.done:
            self._replace(row, status=OutboxStatus.PUBLISHED, attempts=row.attempts + 1)
            self._published_at[row.id] = now
        for row, error in claim.errors:
            attempts = row.attempts + 1
            dead = attempts >= claim.retry.max_attempts
            self._replace(
                row,
                status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
                attempts=attempts,
                next_attempt_at=now + claim.retry.delay(attempts),
                last_error=error,
            )

    def _open(self, session: MemoryOutboxSession | None) -> MemoryOutboxSession:
        session = session or self._sessions.current()
        if session is None:
            raise ConfigurationError(
                "no outbox session is open; use `async with outbox as session:` and pass it."
            )
        return session


class _MemoryClaim:
    """A relay's hold on some rows of a `MemoryOutbox`."""

    def __init__(self, outbox: MemoryOutbox, rows: list[OutboxedEvent], retry: RetryPolicy) -> None:
        self.rows = rows
        self.retry = retry
        self.done: list[OutboxedEvent] = []
        # A list, not a dict: rows hold their payload dict, so they are not hashable.
        self.errors: list[tuple[OutboxedEvent, str]] = []
        self._outbox = outbox

    def published(self, row: OutboxedEvent) -> None:
        self.done.append(row)

    def failed(self, row: OutboxedEvent, error: str) -> None:
        self.errors.append((row, error))

    async def __aenter__(self) -> _MemoryClaim:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self._outbox._close_claim(self, mark=exc is None)  # pyright: ignore[reportPrivateUsage]
