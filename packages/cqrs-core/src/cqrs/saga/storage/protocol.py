"""The saga storage port: state, context and step log of each saga.

Method names follow those users of other saga libraries already implement;
`record_step` (one atomic write per step transition, outbox messages
included), `claim` and `release` are what correctness under crashes and
concurrency needs on top. Every storage must pass the contract suite in
`cqrs.testing.saga_storage`.
"""

from __future__ import annotations

import datetime
import typing
import uuid

from cqrs.message_brokers.protocol import Message
from cqrs.saga.models import (
    SagaLogEntry,
    SagaState,
    SagaStatus,
    SagaStepAction,
    SagaStepStatus,
    SagaWait,
)

__all__ = (
    "ClaimingSagaStorage",
    "ISagaStorage",
    "claim_and_load",
    "StoredTrace",
    "RECOVERABLE_STATUSES",
    "DEFAULT_STALE_AFTER",
    "staleness",
)

RECOVERABLE_STATUSES: typing.Final = (
    SagaStatus.PENDING,
    SagaStatus.RUNNING,
    SagaStatus.COMPENSATING,
    SagaStatus.COMPENSATION_FAILED,
)

#: How long an unfinished saga that waits for nothing must be unchanged to be recovered.
DEFAULT_STALE_AFTER: typing.Final = datetime.timedelta(seconds=60)


def staleness(
    stale_after: datetime.timedelta, stale_after_seconds: float | None
) -> datetime.timedelta:
    """The `stale_after` that `get_sagas_for_recovery` applies (seconds win when given)."""
    if stale_after_seconds is None:
        return stale_after
    return datetime.timedelta(seconds=stale_after_seconds)


class StoredTrace(typing.TypedDict, total=False):
    """The trace context keyword a saga engine passes to `create_saga` and `record_step`
    when OpenTelemetry records (and leaves out otherwise).

    >>> StoredTrace(trace_context="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    {'trace_context': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'}
    """

    trace_context: str


class ISagaStorage(typing.Protocol):
    """Persists sagas. All methods raise `SagaNotFoundError` for an unknown id
    unless they say otherwise."""

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
        """Store a new saga, status `pending`, version 1.

        With `owner` and `lease`, the saga is created already claimed by
        `owner` (as `claim` would), in the same write. `trace_context` (a W3C
        `traceparent`), when given, is kept as `SagaState.trace_context`. Raises
        `SagaAlreadyExistsError` if the id exists (even when two creations
        race: exactly one succeeds).
        """
        ...

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        """Return the saga's status, last context and version."""
        ...

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        """Replace the context, only if the stored version is `current_version`.

        Returns the new version; raises `SagaConcurrencyError` when the version
        moved (someone else advanced the saga). Without `current_version` (as
        python-cqrs allowed) the write is not fenced; the engine always fences.
        """
        ...

    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        """Set the status and, when `error` is given, the error that led to it.

        Moving to a final status (`completed`, `failed`, `resolved`) also
        releases any claim: a finished saga has no owner. Raises
        `SagaConcurrencyError`, changing nothing, when the saga is `resolved`:
        an operator closed it, and no worker may reopen it.
        """
        ...

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        """Append one entry to the step log (`action` may be python-cqrs's plain string)."""
        ...

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
        """Record one step transition in a single atomic write; return the new version.

        The write appends the log entry (`step_name`, `action`, `status`,
        `details`), replaces the context, bumps the version, sets what the saga
        waits for to `wait` (clearing it when `None`), sets the status to
        `saga_status`, the error to `error` and the trace context to
        `trace_context` when they are given, and stages `messages` in the
        outbox that belongs to this storage. All of it
        happens, or none. A final `saga_status` also releases any claim, as
        `update_status` does.

        Raises `SagaConcurrencyError`, writing nothing, when the stored version
        is not `current_version` or the saga is finished (`completed`,
        `failed` or `resolved`): a worker that lost the saga must not move it
        on (nor start undoing it).
        """
        ...

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The step log in the order it was written.

        Empty for a saga with no steps, and for an unknown id (no error).
        """
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
        max_recovery_attempts: int = 5,
        stale_after_seconds: float | None = None,
        saga_name: str | None = None,
        *,
        stale_after: datetime.timedelta = DEFAULT_STALE_AFTER,
    ) -> list[uuid.UUID]:
        """Ids of unfinished sagas worth recovering, oldest (first created) first.

        A saga qualifies when its status is in `RECOVERABLE_STATUSES`, nobody
        holds a live claim on it, it was recovered fewer than
        `max_recovery_attempts` times, its name is `saga_name` (when given),
        and either it waits for a reply whose deadline has passed (a timeout
        to act on) or it waits for nothing and has not changed for
        `stale_after` (or `stale_after_seconds`, python-cqrs's spelling, which
        wins when given). A saga waiting for a reply within its deadline is
        not stuck and does not qualify. A saga changes when `update_context`,
        `update_status`, `record_step` or `increment_recovery_attempts` writes
        it. Empty when none.
        """
        ...

    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        """Count one more recovery attempt; return the new count."""
        ...


@typing.runtime_checkable
class ClaimingSagaStorage(typing.Protocol):
    """A storage that claims a saga and reads it back in one go (optional).

    A worker's pass over a stored saga starts with `claim`, `load_saga_state`
    and `get_step_history`; a storage that can do the three in one round
    trip (one statement on PostgreSQL: `cqrs_sqla`) offers this method, and
    the engine calls it instead of the three.

    >>> from cqrs.saga.storage.memory import MemorySagaStorage
    >>> isinstance(MemorySagaStorage(), ClaimingSagaStorage)  # claim_and_load() falls back
    False
    """

    async def claim_and_load(
        self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta
    ) -> tuple[SagaState, list[SagaLogEntry]] | None:
        """`claim`, then the saga's state and step log as that claim left them.

        None, reading nothing, while another owner's lease runs;
        `SagaNotFoundError` for an unknown id.
        """
        ...


async def claim_and_load(
    storage: ISagaStorage, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta
) -> tuple[SagaState, list[SagaLogEntry]] | None:
    """Claim saga `saga_id` for `owner` and read its state and step log: in one call
    when the storage is a `ClaimingSagaStorage`, else by its three methods.

    >>> import asyncio
    >>> from cqrs.saga.storage.memory import MemorySagaStorage
    >>> async def demo() -> tuple[str, int]:
    ...     storage = MemorySagaStorage()
    ...     saga_id = uuid.uuid4()
    ...     await storage.create_saga(saga_id, "order", {"n": 1})
    ...     loaded = await claim_and_load(storage, saga_id, "me", datetime.timedelta(seconds=5))
    ...     assert loaded is not None
    ...     state, history = loaded
    ...     return state.name, len(history)
    >>> asyncio.run(demo())
    ('order', 0)
    """
    if isinstance(storage, ClaimingSagaStorage):
        return await storage.claim_and_load(saga_id, owner, lease)
    if not await storage.claim(saga_id, owner, lease):
        return None
    return await storage.load_saga_state(saga_id), await storage.get_step_history(saga_id)
