"""The JSON the admin API and `cqrs-admin --json` speak: one model per thing shown, built
from the `cqrs.admin` types, and the bodies of the actions.

Field bounds are declared here, so OpenAPI shows them and a request beyond
them is refused before any store is asked.
"""

from __future__ import annotations

import datetime
import typing
import uuid

import pydantic

from cqrs.admin.audit import MAX_REASON_LENGTH, AdminAction, AuditEntry
from cqrs.admin.checks import MAX_TOPIC_LENGTH
from cqrs.admin.dead_letters import DeadLetter
from cqrs.admin.outbox import TopicStats
from cqrs.admin.paging import Page
from cqrs.admin.sagas import SagaDetail, SagaSummary
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.saga.models import SagaLogEntry, SagaStatus, SagaStepAction, SagaStepStatus

__all__ = (
    "AuditEntryView",
    "OutboxRowView",
    "OutboxRowPage",
    "TopicStatsView",
    "DeadLetterView",
    "DeadLetterPage",
    "SagaSummaryView",
    "SagaPage",
    "SagaDetailView",
    "LogEntryView",
    "ReplayedCount",
    "DiscardedCount",
    "ReasonBody",
    "RequiredReasonBody",
    "ReplayAllBody",
    "DeadLetterReplayBody",
    "VALUE_PREVIEW_BYTES",
)

#: How much of a dead letter's value a listing shows.
VALUE_PREVIEW_BYTES: typing.Final = 2048

Reason = typing.Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_REASON_LENGTH, description="Why.")
]
Topic = typing.Annotated[str, pydantic.Field(min_length=1, max_length=MAX_TOPIC_LENGTH)]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


class _View(pydantic.BaseModel):
    """A body the router answers with; frozen."""

    model_config: typing.ClassVar[pydantic.ConfigDict] = pydantic.ConfigDict(frozen=True)


class AuditEntryView(_View):
    """One audited action: who did what to which record, when and why."""

    at: datetime.datetime
    actor: str
    action: AdminAction
    target: str
    reason: str | None
    details: dict[str, pydantic.JsonValue]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryView:
        return cls(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            reason=entry.reason,
            details=dict(entry.details),
        )


class OutboxRowView(_View):
    """An outbox row: the event it carries and where its delivery stands."""

    id: int
    event_id: uuid.UUID
    event_name: str
    topic: str
    key: str | None
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime.datetime
    payload: dict[str, typing.Any]

    @classmethod
    def of(cls, row: OutboxedEvent) -> OutboxRowView:
        message = row.message
        return cls(
            id=row.id,
            event_id=message.message_id,
            event_name=message.message_name,
            topic=message.topic,
            key=message.key,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            payload=dict(message.payload),
        )


class OutboxRowPage(_View):
    """Dead outbox rows, oldest first; `next_cursor` fetches the page after them."""

    items: list[OutboxRowView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[OutboxedEvent]) -> OutboxRowPage:
        return cls(
            items=[OutboxRowView.of(row) for row in page.items], next_cursor=page.next_cursor
        )


class TopicStatsView(_View):
    """How one topic's outbox rows stand."""

    topic: str
    pending: int
    dead: int
    oldest_pending_age_seconds: float | None

    @classmethod
    def of(cls, stats: TopicStats) -> TopicStatsView:
        age = stats.oldest_pending_age
        return cls(
            topic=stats.topic,
            pending=stats.pending,
            dead=stats.dead,
            oldest_pending_age_seconds=None if age is None else age.total_seconds(),
        )


class DeadLetterView(_View):
    """A record a consumer gave up on: where it is kept, where it came from, and why.

    `key` and `value` are shown as UTF-8 text (bytes that are not replaced);
    `value` is cut to `VALUE_PREVIEW_BYTES`, `value_size` is the whole size.
    `omitted` lists what the dead letter left out to fit its topic (`value`,
    `headers`, `key`): a replay then sends the original record instead.
    """

    topic: str
    partition: int
    offset: int
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    key: str | None
    value: str
    value_size: int
    headers: dict[str, str]
    reason: str | None
    error: str | None
    attempts: int | None
    dead_lettered_at: datetime.datetime
    replayed: AuditEntryView | None
    omitted: list[str]

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        return cls(
            topic=letter.id.topic,
            partition=letter.id.partition,
            offset=letter.id.offset,
            original_topic=letter.original_topic,
            original_partition=letter.original_partition,
            original_offset=letter.original_offset,
            key=_text(letter.key),
            value=letter.value[:VALUE_PREVIEW_BYTES].decode("utf-8", "replace"),
            value_size=len(letter.value),
            headers=dict(letter.headers),
            reason=letter.reason,
            error=letter.error,
            attempts=letter.attempts,
            dead_lettered_at=letter.dead_lettered_at,
            replayed=None if letter.replayed is None else AuditEntryView.of(letter.replayed),
            omitted=list(letter.omitted),
        )


class DeadLetterPage(_View):
    """Dead letters from the oldest kept; `next_cursor` fetches the page after them."""

    items: list[DeadLetterView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[DeadLetter]) -> DeadLetterPage:
        return cls(
            items=[DeadLetterView.of(letter) for letter in page.items],
            next_cursor=page.next_cursor,
        )


class SagaSummaryView(_View):
    """A saga as a listing shows it."""

    saga_id: uuid.UUID
    name: str
    status: SagaStatus
    version: int
    recovery_attempts: int
    error: str | None
    waiting_for: str | None = pydantic.Field(description="The step whose reply it waits for.")
    waiting_until: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, saga: SagaSummary) -> SagaSummaryView:
        return cls(**cls._fields_of(saga))

    @staticmethod
    def _fields_of(saga: SagaSummary) -> dict[str, typing.Any]:
        waiting = saga.waiting
        return {
            "saga_id": saga.saga_id,
            "name": saga.name,
            "status": saga.status,
            "version": saga.version,
            "recovery_attempts": saga.recovery_attempts,
            "error": saga.error,
            "waiting_for": None if waiting is None else waiting.step_name,
            "waiting_until": None if waiting is None else waiting.deadline,
            "created_at": saga.created_at,
            "updated_at": saga.updated_at,
        }


class SagaPage(_View):
    """Sagas, oldest first; `next_cursor` fetches the page after them."""

    items: list[SagaSummaryView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[SagaSummary]) -> SagaPage:
        return cls(
            items=[SagaSummaryView.of(saga) for saga in page.items], next_cursor=page.next_cursor
        )


class LogEntryView(_View):
    """One line of a saga's step log."""

    step: str
    action: SagaStepAction
    status: SagaStepStatus
    at: datetime.datetime
    details: str | None

    @classmethod
    def of(cls, entry: SagaLogEntry) -> LogEntryView:
        return cls(
            step=entry.step_name,
            action=entry.action,
            status=entry.status,
            at=entry.timestamp,
            details=entry.details,
        )


class SagaDetailView(SagaSummaryView):
    """One saga in full: state, context, step log, and what operators did to it."""

    context: dict[str, typing.Any]
    log: list[LogEntryView]
    audit: list[AuditEntryView]

    @classmethod
    def with_audit(cls, saga: SagaDetail, audit: typing.Sequence[AuditEntry]) -> SagaDetailView:
        return cls(
            **cls._fields_of(saga),
            context=dict(saga.context),
            log=[LogEntryView.of(entry) for entry in saga.log],
            audit=[AuditEntryView.of(entry) for entry in audit],
        )


class ReplayedCount(_View):
    """How many records a replay made pending again."""

    replayed: int


class DiscardedCount(_View):
    """How many dead rows a discard kept out of publication."""

    discarded: int


class _Body(pydantic.BaseModel):
    """A body a client sends: no unknown fields, no coercion."""

    # Strict: `"offset": "3"` or `true` is a client's mistake, not an offset.
    model_config: typing.ClassVar[pydantic.ConfigDict] = pydantic.ConfigDict(
        extra="forbid", strict=True
    )


class ReasonBody(_Body):
    """Why (optional)."""

    reason: Reason | None = None


class RequiredReasonBody(_Body):
    """Why (required)."""

    reason: Reason


class ReplayAllBody(_Body):
    """Which dead rows to replay: those of `topic`, or all; and why."""

    topic: Topic | None = None
    reason: Reason | None = None


class DeadLetterReplayBody(_Body):
    """Which dead letter to replay (where it is kept), whether again, and why."""

    topic: Topic
    partition: typing.Annotated[int, pydantic.Field(ge=0, le=2**31 - 1)]
    offset: typing.Annotated[int, pydantic.Field(ge=0, le=2**63 - 1)]
    force: bool = False
    reason: Reason | None = None
