"""`SagaAdmin`: what an operator does to sagas, over a `SagaAdminStore` and the saga engine.

Listing, showing and resolving go to the store; a retry runs the saga through
the application's `SagaRecoveryWorker` (its saga classes, container and
policies), under the engine's normal claim and versions, then records who
retried it and what came of it.

>>> import asyncio
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> admin = SagaAdmin(MemorySagaStorage())
>>> asyncio.run(admin.list_sagas()).items
[]
"""

from __future__ import annotations

import uuid

from cqrs.admin.audit import AdminAction, AuditEntry, check_note
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page
from cqrs.admin.sagas import SagaAdminStore, SagaDetail, SagaQuery, SagaSummary, saga_target
from cqrs.saga.errors import SagaNotRetriableError
from cqrs.saga.models import SagaState
from cqrs.saga.recovery import SagaRecoveryWorker

__all__ = ("SagaAdmin",)


class SagaAdmin:
    """List, show, retry and resolve sagas, each action audited.

    `store` is the storage's admin side (`MemorySagaStorage`, cqrs-sqla's
    `SqlAlchemySagaAdmin`); `recovery`, the worker that recovers the same
    storage's sagas, is what runs a retry (without it, `retry` is refused).
    """

    def __init__(self, store: SagaAdminStore, recovery: SagaRecoveryWorker | None = None) -> None:
        self.store = store
        self.recovery = recovery

    async def list_sagas(
        self,
        query: SagaQuery | None = None,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[SagaSummary]:
        """The sagas `query` matches, oldest first (see `SagaAdminStore.list_sagas`)."""
        return await self.store.list_sagas(query, cursor=cursor, limit=limit)

    async def get_saga(self, saga_id: uuid.UUID) -> SagaDetail:
        """The saga with its context and step log; `SagaNotFoundError` if unknown."""
        return await self.store.get_saga(saga_id)

    async def resolve(self, saga_id: uuid.UUID, *, actor: str, reason: str) -> None:
        """Close an unfinished saga as `resolved` (see `SagaAdminStore.resolve`)."""
        await self.store.resolve(saga_id, actor=actor, reason=reason)

    async def retry(
        self, saga_id: uuid.UUID, *, actor: str, reason: str | None = None
    ) -> SagaState:
        """Run the saga on now (see `SagaRecoveryWorker.retry`); return its state afterwards.

        The audit entry, written once the engine's pass ends, gives the status
        before and after (a step that fails again is compensated and shows in
        the status and error, not raised). Raises `InvalidAdminRequestError`
        for an empty actor or bad reason, `SagaNotFoundError`,
        `SagaConcurrencyError` while a worker holds the saga, and
        `SagaNotRetriableError` for a finished saga, one waiting within its
        deadline, one `recovery` does not know, or when no `recovery` was
        given; none of these runs anything.
        """
        # Checked before the engine runs: a retry must not happen unaudited.
        check_note(actor, reason)
        if self.recovery is None:
            raise SagaNotRetriableError(
                "this admin was given no SagaRecoveryWorker (recovery=), so it cannot run "
                "sagas; retry from a process that has the saga classes"
            )
        before = (await self.recovery.storage.load_saga_state(saga_id)).status
        after = await self.recovery.retry(saga_id)
        await self.store.record_audit(
            AdminAction.SAGA_RETRY,
            saga_target(saga_id),
            actor=actor,
            reason=reason,
            details={"from": before.value, "to": after.status.value},
        )
        return after

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest saga actions, newest first (see `SagaAdminStore.audit_log`)."""
        return await self.store.audit_log(target=target, limit=limit)
