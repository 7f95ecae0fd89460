"""`MemorySagaStorage`: saga storage in a dict, for tests and single-process use.

It honours the whole contract, leases and versions included, so concurrency
bugs show up in unit tests too.

>>> import asyncio, uuid
>>> storage = MemorySagaStorage()
>>> saga_id = uuid.uuid4()
>>> asyncio.run(storage.create_saga(saga_id, "OrderSaga", {"order_id": "o1"}))
>>> asyncio.run(storage.load_saga_state(saga_id)).status.value
'pending'
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

from cqrs.saga.errors import SagaAlreadyExistsError, SagaConcurrencyError, SagaNotFoundError
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepAction, SagaStepStatus
from cqrs.saga.storage.protocol import RECOVERABLE_STATUSES

__all__ = ("MemorySagaStorage",)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclasses.dataclass
class _Record:
    state: SagaState
    created_at: datetime.datetime
    updated_at: datetime.datetime
    log: list[SagaLogEntry] = dataclasses.field(default_factory=lambda: list[SagaLogEntry]())
    owner: str | None = None
    lease_until: datetime.datetime | None = None


class MemorySagaStorage:
    """`ISagaStorage` in process memory. Each method completes without awaiting,
    so on one event loop every call is atomic."""

    def __init__(self, clock: typing.Callable[[], datetime.datetime] = _now) -> None:
        self._clock = clock
        self._records: dict[uuid.UUID, _Record] = {}

    async def create_saga(
        self, saga_id: uuid.UUID, name: str, context: typing.Mapping[str, typing.Any]
    ) -> None:
        if saga_id in self._records:
            raise SagaAlreadyExistsError(saga_id)
        now = self._clock()
        state = SagaState(saga_id, name, SagaStatus.PENDING, dict(context), version=1)
        self._records[saga_id] = _Record(state, created_at=now, updated_at=now)

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        return self._record(saga_id).state

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int,
    ) -> int:
        record = self._record(saga_id)
        if record.state.version != current_version:
            raise SagaConcurrencyError(
                f"saga {saga_id} is at version {record.state.version}, not {current_version}: "
                f"another worker advanced it"
            )
        self._change(record, context=dict(context), version=current_version + 1)
        return current_version + 1

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        self._change(self._record(saga_id), status=status, error=error)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        record = self._record(saga_id)
        record.log.append(SagaLogEntry(saga_id, step_name, action, status, self._clock(), details))

    async def start_compensation(
        self, saga_id: uuid.UUID, step_name: str, error: str, current_version: int
    ) -> None:
        record = self._record(saga_id)
        if record.state.version != current_version or record.state.status.is_final:
            raise SagaConcurrencyError(
                f"saga {saga_id} moved on (version {record.state.version}, status "
                f"{record.state.status.value}); this worker may not compensate it"
            )
        record.log.append(
            SagaLogEntry(
                saga_id,
                step_name,
                SagaStepAction.ACT,
                SagaStepStatus.FAILED,
                self._clock(),
                error,
            )
        )
        self._change(record, status=SagaStatus.COMPENSATING, error=error)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return list(self._record(saga_id).log)

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
        *,
        max_recovery_attempts: int = 5,
        stale_after: datetime.timedelta = datetime.timedelta(seconds=60),
    ) -> list[uuid.UUID]:
        now = self._clock()
        candidates = [
            record
            for record in self._records.values()
            if record.state.status in RECOVERABLE_STATUSES
            and record.state.recovery_attempts < max_recovery_attempts
            and record.updated_at <= now - stale_after
            and (record.lease_until is None or record.lease_until <= now)
        ]
        candidates.sort(key=lambda record: record.created_at)
        return [record.state.saga_id for record in candidates[:limit]]

    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        record = self._record(saga_id)
        attempts = record.state.recovery_attempts + 1
        self._change(record, recovery_attempts=attempts)
        return attempts

    def _record(self, saga_id: uuid.UUID) -> _Record:
        try:
            return self._records[saga_id]
        except KeyError:
            raise SagaNotFoundError(saga_id) from None

    def _change(self, record: _Record, **changes: typing.Any) -> None:
        record.state = dataclasses.replace(record.state, **changes)
        record.updated_at = self._clock()
