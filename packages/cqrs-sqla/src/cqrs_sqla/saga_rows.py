"""How a saga and its step log are rows: column values to write, and what rows read back as.

Shared by `SqlAlchemySagaStorage` (the engine's side) and `SqlAlchemySagaAdmin`
(the operator's side), which write the same tables.
"""

from __future__ import annotations

import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cqrs.saga.models import (
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)

__all__ = (
    "FINAL_STATUSES",
    "NOT_WAITING",
    "rows_changed",
    "status_values",
    "wait_values",
    "wait_of",
    "state_of",
    "log_values",
    "log_entry_of",
    "log_entries_of",
    "log_query",
)

#: The `status` values of finished sagas.
FINAL_STATUSES: typing.Final = tuple(status.value for status in SagaStatus if status.is_final)
#: The `waiting_*` column values of a saga that waits for nothing.
NOT_WAITING: typing.Final[dict[str, object]] = {
    "waiting_step": None,
    "waiting_action": None,
    "waiting_deadline": None,
    "waiting_attempt": None,
}


async def rows_changed(session: AsyncSession, update: sa.Update) -> int:
    """Run `update`; return how many rows it matched."""
    result = typing.cast("sa.CursorResult[typing.Any]", await session.execute(update))
    return result.rowcount


def status_values(status: SagaStatus | None, error: str | None) -> dict[str, object]:
    """Column values for a new status and error; `None` leaves them as they are."""
    values: dict[str, object] = {}
    if status is not None:
        values["status"] = status.value
        if status.is_final:  # a finished saga has no owner
            values.update(owner=None, lease_until=None)
    if error is not None:
        values["error"] = error
    return values


def wait_values(wait: SagaWait | None) -> dict[str, object]:
    """The `waiting_*` column values of `wait` (all NULL when the saga waits for nothing)."""
    if wait is None:
        return dict(NOT_WAITING)
    return {
        "waiting_step": wait.step_name,
        "waiting_action": wait.action.value,
        "waiting_deadline": wait.deadline,
        "waiting_attempt": wait.attempt,
    }


def wait_of(row: typing.Mapping[typing.Any, typing.Any]) -> SagaWait | None:
    """What a saga row says the saga waits for; inverse of `_wait_values`."""
    deadline = typing.cast("datetime.datetime | None", row["waiting_deadline"])
    if deadline is None:
        return None
    return SagaWait(
        typing.cast(str, row["waiting_step"]),
        SagaStepAction(row["waiting_action"]),
        deadline,
        typing.cast(int, row["waiting_attempt"]),
    )


def state_of(row: typing.Mapping[typing.Any, typing.Any]) -> SagaState:
    """The `SagaState` of a saga row."""
    return SagaState(
        saga_id=typing.cast(uuid.UUID, row["id"]),
        name=typing.cast(str, row["name"]),
        status=SagaStatus(row["status"]),
        context=typing.cast(dict[str, typing.Any], row["context"]),
        version=typing.cast(int, row["version"]),
        recovery_attempts=typing.cast(int, row["recovery_attempts"]),
        error=typing.cast("str | None", row["error"]),
        waiting=wait_of(row),
        trace_context=typing.cast("str | None", row.get("trace_context")),
    )


def log_values(
    saga_id: uuid.UUID,
    step_name: str,
    action: SagaStepAction,
    status: SagaStepStatus,
    details: str | None,
    now: datetime.datetime,
) -> dict[str, object]:
    """Column values of one step log row."""
    return {
        "saga_id": saga_id,
        "step_name": step_name,
        "action": action.value,
        "status": status.value,
        "details": details,
        "created_at": now,
    }


def log_query(log: sa.Table, saga_id: uuid.UUID) -> sa.Select[typing.Any]:
    """The step log of saga `saga_id` in write order (by the log's id, never by timestamp),
    as rows `log_entry_of` reads."""
    return (
        sa.select(log.c.step_name, log.c.action, log.c.status, log.c.created_at, log.c.details)
        .where(log.c.saga_id == saga_id)
        .order_by(log.c.id)
    )


def log_entry_of(saga_id: uuid.UUID, row: typing.Mapping[typing.Any, typing.Any]) -> SagaLogEntry:
    """The `SagaLogEntry` of a step log row; inverse of `_log_values`."""
    return SagaLogEntry(
        saga_id,
        typing.cast(str, row["step_name"]),
        SagaStepAction(row["action"]),
        SagaStepStatus(row["status"]),
        typing.cast(datetime.datetime, row["created_at"]),
        typing.cast("str | None", row["details"]),
    )


def log_entries_of(
    saga_id: uuid.UUID, row: typing.Mapping[typing.Any, typing.Any]
) -> list[SagaLogEntry]:
    """The step log of a row holding it as arrays (`saga_pg.log_arrays`): `log_step`,
    `log_action`, `log_status`, `log_at` and `log_details`, each None for no entry.

    >>> import datetime
    >>> at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    >>> row = {"log_step": ["Open"], "log_action": ["act"], "log_status": ["completed"],
    ...        "log_at": [at], "log_details": [None]}
    >>> [entry.step_name for entry in log_entries_of(uuid.uuid4(), row)]
    ['Open']
    >>> log_entries_of(uuid.uuid4(), dict.fromkeys(row))
    []
    """
    return [
        log_entry_of(
            saga_id,
            {
                "step_name": step,
                "action": action,
                "status": status,
                "created_at": at,
                "details": details,
            },
        )
        for step, action, status, at, details in zip(
            row["log_step"] or (),
            row["log_action"] or (),
            row["log_status"] or (),
            row["log_at"] or (),
            row["log_details"] or (),
            strict=True,
        )
    ]
