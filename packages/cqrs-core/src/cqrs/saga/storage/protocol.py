"""The saga storage port: state, context and step log of each saga.

Method names follow those users of other saga libraries already implement;
`start_compensation`, `claim` and `release` are what correctness under crashes
and concurrency needs on top. Every storage must pass the contract suite in
`cqrs.testing.saga_storage`.
"""

from __future__ import annotations

import datetime
import typing
import uuid

from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepAction, SagaStepStatus

__all__ = ("ISagaStorage", "RECOVERABLE_STATUSES")

RECOVERABLE_STATUSES: typing.Final = (
    SagaStatus.PENDING,
    SagaStatus.RUNNING,
    SagaStatus.COMPENSATING,
    SagaStatus.COMPENSATION_FAILED,
)


class ISagaStorage(typing.Protocol):
    """Persists sagas. All methods raise `SagaNotFoundError` for an unknown id
    unless they say otherwise."""

    async def create_saga(
        self, saga_id: uuid.UUID, name: str, context: typing.Mapping[str, typing.Any]
    ) -> None:
        """Store a new saga, status `pending`, version 1.

        Raises `SagaAlreadyExistsError` if the id exists (even when two
        creations race: exactly one succeeds).
        """
        ...

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        """Return the saga's status, last context and version."""
        ...

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int,
    ) -> int:
        """Replace the context if the stored version is `current_version`.

        Returns the new version; raises `SagaConcurrencyError` when the version
        moved (someone else advanced the saga).
        """
        ...

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        """Set the status (and the error that led to it, if any)."""
        ...

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction,
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        """Append one entry to the step log."""
        ...

    async def start_compensation(
        self, saga_id: uuid.UUID, step_name: str, error: str, current_version: int
    ) -> None:
        """In one atomic write: log `step_name`'s act as failed and set `compensating`.

        There is no moment at which the failure is recorded but the saga could
        still be resumed forward, nor the reverse. Raises `SagaConcurrencyError`
        when the version is no longer `current_version` or the saga is finished:
        a worker that lost the saga must not start undoing it.
        """
        ...

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The step log in the order it was written; empty for a saga with no steps."""
        ...

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        """Take (or renew) the exclusive right to run the saga for `lease`.

        True when `owner` now holds it; False while another owner's lease runs.
        """
        ...

    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        """Give up `owner`'s claim; no effect if `owner` does not hold it."""
        ...

    async def get_sagas_for_recovery(
        self,
        limit: int,
        *,
        max_recovery_attempts: int = 5,
        stale_after: datetime.timedelta = datetime.timedelta(seconds=60),
    ) -> list[uuid.UUID]:
        """Ids of unfinished sagas worth recovering, oldest first.

        A saga qualifies when its status is in `RECOVERABLE_STATUSES`, it has
        not changed for `stale_after`, nobody holds a live claim on it, and it
        was recovered fewer than `max_recovery_attempts` times. Empty when none.
        """
        ...

    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        """Count one more recovery attempt; return the new count."""
        ...
