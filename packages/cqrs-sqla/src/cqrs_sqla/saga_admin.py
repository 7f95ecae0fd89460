"""`SqlAlchemySagaAdmin`: the saga storage's admin port (`cqrs.admin.SagaAdminStore`) on
the tables of `SqlAlchemySagaStorage`, PostgreSQL and SQLite.

Listings filter and page in SQL, oldest first by creation (ties by id), as
recovery orders sagas. `resolve` is one transaction: the fenced update of the
saga (refused if its version moved or a worker's lease runs), its `resolve`
log entry and the audit entry. Times come from `clock`, which must agree with
the storage's.

```python
sessions = async_sessionmaker(engine)
storage = SqlAlchemySagaStorage(sessions, schema)
admin = SagaAdmin(SqlAlchemySagaAdmin(sessions, schema), recovery=worker)
```
"""

from __future__ import annotations

import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cqrs.admin.audit import AdminAction, AuditDetails, AuditEntry, audit_entry, check_note
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
from cqrs.saga.errors import SagaConcurrencyError, SagaNotFoundError, SagaNotResolvableError
from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs_sqla.audit import audit_entry_of, audit_query, audit_values
from cqrs_sqla.databases import bound_dialect, require_supported
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.saga_rows import (
    FINAL_STATUSES,
    log_entry_of,
    log_query,
    log_values,
    rows_changed,
    status_values,
    wait_of,
    wait_values,
)
from cqrs_sqla.schema import Schema

__all__ = ("SqlAlchemySagaAdmin",)


class SqlAlchemySagaAdmin:
    """`cqrs.admin.SagaAdminStore` on the schema's `saga`, `saga_log` and audit tables.

    `session_factory` opens one session (one transaction) per call; `clock`
    gives every time it writes or compares.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        dialect = bound_dialect(session_factory)
        if dialect is not None:
            require_supported(dialect, "SqlAlchemySagaAdmin")
        self._session_factory = session_factory
        self._saga = schema.saga
        self._log = schema.saga_log
        self._audit = schema.audit
        self._clock = clock

    @maps_driver_errors
    async def list_sagas(
        self,
        query: SagaQuery | None = None,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[SagaSummary]:
        """The sagas `query` matches, oldest first (see `SagaAdminStore`)."""
        check_page_size(limit)
        saga = self._saga
        conditions = self._conditions(query or SagaQuery(), self._clock())
        after = after_saga(cursor)
        if after is not None:
            created_at, saga_id = after
            conditions.append(
                sa.or_(
                    saga.c.created_at > created_at,
                    sa.and_(saga.c.created_at == created_at, saga.c.id > saga_id),
                )
            )
        select = (
            sa.select(*self._summary_columns())
            .where(*conditions)
            .order_by(saga.c.created_at, saga.c.id)
            .limit(limit + 1)
        )
        async with self._session_factory.begin() as session:
            rows = (await session.execute(select)).mappings().all()
        return page_of(
            [_summary(row) for row in rows],
            limit,
            lambda summary: saga_cursor(summary.created_at, summary.saga_id),
        )

    @maps_driver_errors
    async def get_saga(self, saga_id: uuid.UUID) -> SagaDetail:
        """The saga with its context and step log, read in one transaction."""
        saga = self._saga
        state = sa.select(*self._summary_columns(), saga.c.context).where(saga.c.id == saga_id)
        async with self._session_factory.begin() as session:
            row = (await session.execute(state)).mappings().one_or_none()
            if row is None:
                raise SagaNotFoundError(saga_id)
            entries = (await session.execute(log_query(self._log, saga_id))).mappings().all()
        return SagaDetail.of(
            _summary(row),
            typing.cast(dict[str, typing.Any], row["context"]),
            [log_entry_of(saga_id, entry) for entry in entries],
        )

    @maps_driver_errors
    async def resolve(self, saga_id: uuid.UUID, *, actor: str, reason: str) -> None:
        """Close an unfinished saga as `resolved` in one transaction (see `SagaAdminStore`)."""
        check_note(actor, reason, reason_required=True)
        saga, now = self._saga, self._clock()
        current = sa.select(saga.c.name, saga.c.status, saga.c.version, saga.c.lease_until).where(
            saga.c.id == saga_id
        )
        async with self._session_factory.begin() as session:
            row = (await session.execute(current)).mappings().one_or_none()
            if row is None:
                raise SagaNotFoundError(saga_id)
            name, status = typing.cast(str, row["name"]), SagaStatus(row["status"])
            if status.is_final:
                raise SagaNotResolvableError(
                    f"saga {saga_id} is {status.value} already; only an unfinished saga "
                    f"can be resolved"
                )
            resolved = (
                saga.update()
                .where(
                    saga.c.id == saga_id,
                    saga.c.version == row["version"],
                    saga.c.status.not_in(FINAL_STATUSES),
                    sa.or_(saga.c.lease_until.is_(None), saga.c.lease_until <= now),
                )
                .values(
                    version=saga.c.version + 1,
                    updated_at=now,
                    **wait_values(None),
                    **status_values(SagaStatus.RESOLVED, None),
                )
            )
            if await rows_changed(session, resolved) == 0:
                raise SagaConcurrencyError(
                    f"saga {saga_id} is being run by a worker (its lease runs until "
                    f"{row['lease_until']}) or moved on meanwhile; look at it again, and "
                    f"resolve it once no worker holds it"
                )
            await session.execute(
                self._log.insert().values(
                    log_values(
                        saga_id,
                        name,
                        SagaStepAction.RESOLVE,
                        SagaStepStatus.COMPLETED,
                        resolution_details(actor, reason),
                        now,
                    )
                )
            )
            entry = audit_entry(
                now,
                AdminAction.SAGA_RESOLVE,
                saga_target(saga_id),
                actor=actor,
                reason=reason,
                details={"from": status.value},
            )
            await session.execute(self._audit.insert().values(audit_values(entry)))

    @maps_driver_errors
    async def record_audit(
        self,
        action: AdminAction,
        target: str,
        *,
        actor: str,
        reason: str | None = None,
        details: AuditDetails | None = None,
    ) -> AuditEntry:
        """Insert an audit entry stamped now (see `SagaAdminStore`)."""
        entry = audit_entry(
            self._clock(), action, target, actor=actor, reason=reason, details=details
        )
        async with self._session_factory.begin() as session:
            await session.execute(self._audit.insert().values(audit_values(entry)))
        return entry

    @maps_driver_errors
    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest saga actions, newest first (see `SagaAdminStore`)."""
        query = audit_query(self._audit, "saga", target, limit)
        async with self._session_factory.begin() as session:
            return [audit_entry_of(row) for row in (await session.execute(query)).mappings()]

    def _summary_columns(self) -> list[sa.Column[typing.Any]]:
        saga = self._saga
        return [
            saga.c.id,
            saga.c.name,
            saga.c.status,
            saga.c.version,
            saga.c.recovery_attempts,
            saga.c.error,
            saga.c.waiting_step,
            saga.c.waiting_action,
            saga.c.waiting_deadline,
            saga.c.waiting_attempt,
            saga.c.created_at,
            saga.c.updated_at,
        ]

    def _conditions(self, query: SagaQuery, now: datetime.datetime) -> list[sa.ColumnElement[bool]]:
        """`query` as SQL conditions (the same rules as `SagaQuery.matches`)."""
        saga = self._saga
        conditions: list[sa.ColumnElement[bool]] = []
        if query.status is not None:
            conditions.append(saga.c.status == query.status.value)
        if query.name is not None:
            conditions.append(saga.c.name == query.name)
        if query.unfinished_only:
            conditions.append(saga.c.status.not_in(FINAL_STATUSES))
        if query.overdue:
            conditions.append(saga.c.waiting_deadline <= now)
        if query.min_recovery_attempts is not None:
            conditions.append(saga.c.recovery_attempts >= query.min_recovery_attempts)
        if query.running_longer_than is not None:
            conditions.append(saga.c.created_at <= now - query.running_longer_than)
        return conditions


def _summary(row: sa.RowMapping) -> SagaSummary:
    """The `SagaSummary` of a saga row."""
    return SagaSummary(
        saga_id=typing.cast(uuid.UUID, row["id"]),
        name=typing.cast(str, row["name"]),
        status=SagaStatus(row["status"]),
        version=typing.cast(int, row["version"]),
        recovery_attempts=typing.cast(int, row["recovery_attempts"]),
        error=typing.cast("str | None", row["error"]),
        waiting=wait_of(row),
        created_at=typing.cast(datetime.datetime, row["created_at"]),
        updated_at=typing.cast(datetime.datetime, row["updated_at"]),
    )
