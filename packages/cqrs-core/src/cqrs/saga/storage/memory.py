"""`MemorySagaStorage`: saga storage in a dict, for tests and single-process use.

It honours the whole contract, leases, versions and the outbox included, so
concurrency bugs show up in unit tests too. Messages that steps send are
staged in `storage.outbox`, a `MemoryOutbox`.

>>> import asyncio, uuid
>>> storage = MemorySagaStorage()
>>> saga_id = uuid.uuid4()
>>> asyncio.run(storage.create_saga(saga_id, "OrderSaga", {"order_id": "o1"}))
>>> asyncio.run(storage.load_saga_state(saga_id)).status.value
'pending'
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import typing
import uuid

from cqrs.admin.audit import AdminAction, AuditDetails, AuditEntry, audit_entry, newest_first
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page, check_page_size, page_of
from cqrs.admin.sagas import (
    SagaDetail,
    SagaQuery,
    SagaSummary,
    after_saga,
    resolution_details,
    saga_cursor,
    saga_target,
)
from cqrs.clock import utc_now
from cqrs.message_brokers.protocol import Message
from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.errors import (
    SagaAlreadyExistsError,
    SagaConcurrencyError,
    SagaNotFoundError,
    SagaNotResolvableError,
)
from cqrs.saga.models import (
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)
from cqrs.saga.storage.protocol import DEFAULT_STALE_AFTER, RECOVERABLE_STATUSES, staleness
from cqrs.saga.storage.run import SagaStorageRun, scoped_run

__all__ = ("MemorySagaStorage",)


_FINAL: typing.Final = frozenset(status for status in SagaStatus if status.is_final)
# A module constant: reading a member off the enum class costs an attribute lookup per write.
_PENDING: typing.Final = SagaStatus.PENDING
_RESOLVED: typing.Final = SagaStatus.RESOLVED
_Entry = tuple[str, SagaStepAction, SagaStepStatus, datetime.datetime, "str | None"]


# Typed for the checker, yet a plain `list` call: `list[_Entry]()` builds a generic alias each time.
_new_log = typing.cast("typing.Callable[[], list[_Entry]]", list)


@dataclasses.dataclass(slots=True)
class _Record:
    """One saga, changed in place; its context is copied on the way in and out."""

    saga_id: uuid.UUID
    name: str
    status: SagaStatus
    context: typing.Mapping[str, typing.Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    version: int = 1
    recovery_attempts: int = 0
    error: str | None = None
    waiting: SagaWait | None = None
    # Entries as tuples; `SagaLogEntry` objects are built when the log is read.
    log: list[_Entry] = dataclasses.field(default_factory=_new_log)
    owner: str | None = None
    lease_until: datetime.datetime | None = None
    trace_context: str | None = None

    def summary(self) -> SagaSummary:
        return SagaSummary(
            self.saga_id,
            self.name,
            self.status,
            self.version,
            self.recovery_attempts,
            self.error,
            self.waiting,
            self.created_at,
            self.updated_at,
        )

    def state(self) -> SagaState:
        return SagaState(
            self.saga_id,
            self.name,
            self.status,
            _copy_context(self.context),
            self.version,
            self.recovery_attempts,
            self.error,
            self.waiting,
            self.trace_context,
        )


class MemorySagaStorage:
    """`ISagaStorage` and `cqrs.admin.SagaAdminStore` in process memory. Each method
    completes without awaiting, so on one event loop every call is atomic."""

    def __init__(
        self,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        outbox: MemoryOutbox | None = None,
    ) -> None:
        self._clock = clock
        # Keyed by `saga_id.int`: hashing a UUID object runs Python code, an int's does not.
        self._records: dict[int, _Record] = {}
        self.outbox: MemoryOutbox = outbox if outbox is not None else MemoryOutbox(clock)
        #: The admin actions on these sagas, oldest first.
        self.audit: list[AuditEntry] = []

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        name: str,
        context: typing.Mapping[str, typing.Any],
        *,
        owner: str | None = None,
        lease: datetime.timedelta | None = None,
        trace_context: str | None = None,
    ) -> None:
        key = saga_id.int
        if key in self._records:
            raise SagaAlreadyExistsError(saga_id)
        now = self._clock()
        record = _Record(saga_id, name, _PENDING, _copy_context(context), now, now)
        record.trace_context = trace_context
        if owner is not None and lease is not None:
            record.owner, record.lease_until = owner, now + lease
        self._records[key] = record

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        return self._record(saga_id).state()

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        record = self._record(saga_id)
        if current_version is not None and record.version != current_version:
            raise SagaConcurrencyError(
                f"saga {saga_id} is at version {record.version}, not {current_version}: "
                f"another worker advanced it"
            )
        record.context = _copy_context(context)
        record.version += 1
        record.updated_at = self._clock()
        return record.version

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        record = self._record(saga_id)
        if record.status is _RESOLVED:
            raise SagaConcurrencyError(
                f"saga {saga_id} was resolved by an operator; it may not become {status.value}"
            )
        self._set_status(record, status)
        if error is not None:
            record.error = error
        record.updated_at = self._clock()

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        record = self._record(saga_id)
        record.log.append((step_name, SagaStepAction(action), status, self._clock(), details))

    def create_run(self) -> contextlib.AbstractAsyncContextManager[SagaStorageRun]:
        """python-cqrs's scoped run over this storage (see `cqrs.saga.storage.run`)."""
        return scoped_run(self)

    async def record_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        *,
        context: typing.Mapping[str, typing.Any],
        current_version: int,
        details: str | None = None,
        saga_status: SagaStatus | None = None,
        error: str | None = None,
        wait: SagaWait | None = None,
        messages: typing.Sequence[Message] = (),
        trace_context: str | None = None,
    ) -> int:
        # `_record` inlined: this runs once per saga step.
        record = self._records.get(saga_id.int)
        if record is None:
            raise SagaNotFoundError(saga_id)
        if record.version != current_version or record.status in _FINAL:
            raise SagaConcurrencyError(
                f"saga {saga_id} moved on (version {record.version}, status "
                f"{record.status.value}); this worker may not record {step_name}"
            )
        now = self._clock()
        record.log.append((step_name, action, status, now, details))
        record.context = _copy_context(context)
        record.version += 1
        record.waiting = wait
        if saga_status is not None:
            self._set_status(record, saga_status)
        if error is not None:
            record.error = error
        if trace_context is not None:
            record.trace_context = trace_context
        if messages:
            self.outbox.stage(messages)
        record.updated_at = now
        return record.version

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        record = self._records.get(saga_id.int)
        if record is None:
            return []
        return [SagaLogEntry(saga_id, *entry) for entry in record.log]

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        record = self._record(saga_id)
        now = self._clock()
        held_by_other = (
            record.owner not in (None, owner)
            and record.lease_until is not None
            and record.lease_until > now
        )
        if held_by_other:
            return False
        record.owner, record.lease_until = owner, now + lease
        return True

    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        record = self._record(saga_id)
        if record.owner == owner:
            record.owner, record.lease_until = None, None

    async def get_sagas_for_recovery(
        self,
        limit: int,
        max_recovery_attempts: int = 5,
        stale_after_seconds: float | None = None,
        saga_name: str | None = None,
        *,
        stale_after: datetime.timedelta = DEFAULT_STALE_AFTER,
    ) -> list[uuid.UUID]:
        now = self._clock()
        stale_after = staleness(stale_after, stale_after_seconds)
        candidates = [
            record
            for record in self._records.values()
            if record.status in RECOVERABLE_STATUSES
            and (saga_name is None or record.name == saga_name)
            and record.recovery_attempts < max_recovery_attempts
            and (record.lease_until is None or record.lease_until <= now)
            and _is_due(record, now, stale_after)
        ]
        candidates.sort(key=lambda record: record.created_at)
        return [record.saga_id for record in candidates[:limit]]

    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        record = self._record(saga_id)
        record.recovery_attempts += 1
        record.updated_at = self._clock()
        return record.recovery_attempts

    # -- the admin port: cqrs.admin.sagas.SagaAdminStore --------------------------

    async def list_sagas(
        self,
        query: SagaQuery | None = None,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[SagaSummary]:
        """The sagas `query` matches, oldest first (see `SagaAdminStore`)."""
        check_page_size(limit)
        after, query, now = after_saga(cursor), query or SagaQuery(), self._clock()
        matching = sorted(
            (
                summary
                for summary in map(_Record.summary, self._records.values())
                if (after is None or _position(summary) > (after[0], after[1].int))
                and query.matches(summary, now)
            ),
            key=_position,
        )
        return page_of(
            matching[: limit + 1], limit, lambda saga: saga_cursor(saga.created_at, saga.saga_id)
        )

    async def get_saga(self, saga_id: uuid.UUID) -> SagaDetail:
        """The saga with its context and step log (see `SagaAdminStore`)."""
        record = self._record(saga_id)
        return SagaDetail.of(
            record.summary(), _copy_context(record.context), await self.get_step_history(saga_id)
        )

    async def resolve(self, saga_id: uuid.UUID, *, actor: str, reason: str) -> None:
        """Close an unfinished saga as `resolved` (see `SagaAdminStore`)."""
        record = self._record(saga_id)
        now = self._clock()
        entry = audit_entry(
            now,
            AdminAction.SAGA_RESOLVE,
            saga_target(saga_id),
            actor=actor,
            reason=reason,
            details={"from": record.status.value},
            reason_required=True,
        )
        if record.status in _FINAL:
            raise SagaNotResolvableError(
                f"saga {saga_id} is {record.status.value} already; only an unfinished "
                f"saga can be resolved"
            )
        if record.owner is not None and record.lease_until is not None and record.lease_until > now:
            raise SagaConcurrencyError(
                f"saga {saga_id} is being run by a worker until {record.lease_until.isoformat()}; "
                f"resolve it once the worker lets go"
            )
        record.log.append(
            (
                record.name,
                SagaStepAction.RESOLVE,
                SagaStepStatus.COMPLETED,
                now,
                resolution_details(actor, reason),
            )
        )
        self._set_status(record, SagaStatus.RESOLVED)
        record.version += 1
        record.waiting = None
        record.updated_at = now
        self.audit.append(entry)

    async def record_audit(
        self,
        action: AdminAction,
        target: str,
        *,
        actor: str,
        reason: str | None = None,
        details: AuditDetails | None = None,
    ) -> AuditEntry:
        """Add an audit entry stamped now (see `SagaAdminStore`)."""
        entry = audit_entry(
            self._clock(), action, target, actor=actor, reason=reason, details=details
        )
        self.audit.append(entry)
        return entry

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest saga actions, newest first (see `SagaAdminStore`)."""
        return newest_first(self.audit, target=target, limit=limit)

    @staticmethod
    def _set_status(record: _Record, status: SagaStatus) -> None:
        record.status = status
        if status in _FINAL:
            record.owner, record.lease_until = None, None

    def _record(self, saga_id: uuid.UUID) -> _Record:
        try:
            return self._records[saga_id.int]
        except KeyError:
            raise SagaNotFoundError(saga_id) from None


def _copy_context(context: typing.Mapping[str, typing.Any]) -> dict[str, typing.Any]:
    """Copy a JSON-shaped context (dicts and lists all the way down), as a database would.

    Much cheaper than `copy.deepcopy` on the usual flat context, which matters:
    every step writes one.
    """
    copy = dict(context)
    # Most contexts are flat, and one scan of the values costs less than
    # walking them all to copy: only a context with containers is walked.
    for value in copy.values():
        if type(value) in _CONTAINERS:
            return _json_copy(copy)
    return copy


# A set: `in` on a tuple of types compares each one, a set hashes once.
_CONTAINERS: typing.Final = frozenset((dict, list))


def _json_copy(value: typing.Any) -> typing.Any:
    if isinstance(value, dict):
        items = typing.cast(dict[str, typing.Any], value).items()
        return {key: _json_copy(item) for key, item in items}
    if isinstance(value, list):
        return [_json_copy(item) for item in typing.cast(list[typing.Any], value)]
    return value


def _position(saga: SagaSummary) -> tuple[datetime.datetime, int]:
    """Where a saga stands in listings: by creation, ties by id (as SQL orders UUIDs)."""
    return saga.created_at, saga.saga_id.int


def _is_due(record: _Record, now: datetime.datetime, stale_after: datetime.timedelta) -> bool:
    if record.waiting is not None:
        return record.waiting.deadline <= now
    return record.updated_at <= now - stale_after
