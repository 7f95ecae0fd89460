"""`SqlAlchemySagaStorage`: the cqrs-core saga storage on SQLAlchemy 2 (async).

Sagas live in the schema's `saga` table (one row each: status, JSON context,
version, claim, what the saga waits for) and their step log in `saga_log`,
read back in the order of its monotonic id. `record_step` stages the step's
messages in the schema's outbox table in the same transaction as the step,
so they are published if, and only if, the step is recorded.

Every method is one short transaction. Times come from the storage's clock,
never from the database's `now()`: the workers' clocks must agree for leases
and staleness to mean the same to all of them. On SQLite, create the engine with
`cqrs_sqla.create_engine` (or `cqrs_sqla.sqlite.configure_sqlite`): concurrent
writers need its `BEGIN IMMEDIATE` transactions.

```python
engine = create_engine("sqlite+aiosqlite:///app.db")  # or "postgresql+asyncpg://..."
storage = SqlAlchemySagaStorage(async_sessionmaker(engine), Schema())
```
"""

from __future__ import annotations

import contextlib
import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cqrs.clock import utc_now
from cqrs.compressors.protocol import Compressor
from cqrs.message_brokers.protocol import Message
from cqrs.saga.errors import SagaAlreadyExistsError, SagaConcurrencyError, SagaNotFoundError
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
from cqrs_sqla.databases import bound_dialect, require_supported
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.encoding import outbox_values
from cqrs_sqla.notify import insert_notifying
from cqrs_sqla.saga_rows import (
    FINAL_STATUSES,
    log_entry_of,
    log_query,
    log_values,
    rows_changed,
    state_of,
    status_values,
    wait_values,
)
from cqrs_sqla.schema import Schema, default_schema
from cqrs_sqla.statements import insert_unless_present

__all__ = ("SqlAlchemySagaStorage",)

_RECOVERABLE: typing.Final = tuple(status.value for status in RECOVERABLE_STATUSES)


class SqlAlchemySagaStorage:
    """`ISagaStorage` on the schema's `saga`, `saga_log` and outbox tables.

    `session_factory` opens the sessions (one per method call, one
    transaction each); `schema` defaults to `default_schema()`; `clock`
    gives every time the storage writes or compares; `compressor`, when
    given, compresses the payloads of the messages `record_step` stages.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema | None = None,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        compressor: Compressor | None = None,
    ) -> None:
        dialect = bound_dialect(session_factory)
        if dialect is not None:
            require_supported(dialect, "SqlAlchemySagaStorage")
        self.session_factory: async_sessionmaker[AsyncSession] = session_factory
        self.schema: Schema = schema if schema is not None else default_schema()
        schema = self.schema
        self._saga = schema.saga
        self._log = schema.saga_log
        self._clock = clock
        self._compressor = compressor

    @maps_driver_errors
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
        """Insert the saga, `pending` at version 1, claimed when `owner` and `lease` are given."""
        now = self._clock()
        claim = (owner, now + lease) if owner is not None and lease is not None else (None, None)
        values = {
            "id": saga_id,
            "name": name,
            "status": SagaStatus.PENDING.value,
            "context": dict(context),
            "version": 1,
            "recovery_attempts": 0,
            "owner": claim[0],
            "lease_until": claim[1],
            "created_at": now,
            "updated_at": now,
        }
        if trace_context is not None:
            values["trace_context"] = trace_context
        async with self.session_factory.begin() as session:
            dialect = session.get_bind(clause=self._saga).dialect
            insert = insert_unless_present(dialect, self._saga, values, "SqlAlchemySagaStorage")
            result = typing.cast("sa.CursorResult[typing.Any]", await session.execute(insert))
            created = result.rowcount == 1
        if not created:
            raise SagaAlreadyExistsError(saga_id)

    @maps_driver_errors
    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        """The saga's status, context (a fresh dict), version and what it waits for."""
        query = sa.select(self._saga).where(self._saga.c.id == saga_id)
        async with self.session_factory.begin() as session:
            row = (await session.execute(query)).mappings().one_or_none()
        if row is None:
            raise SagaNotFoundError(saga_id)
        return state_of(row)

    @maps_driver_errors
    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: typing.Mapping[str, typing.Any],
        current_version: int | None = None,
    ) -> int:
        """Replace the context, if the version is `current_version` when one is given;
        return the new version."""
        saga = self._saga
        update = (
            (saga.update().where(saga.c.id == saga_id))
            if current_version is None
            else self._fenced(saga_id, current_version)
        )
        update = update.values(
            context=dict(context), version=saga.c.version + 1, updated_at=self._clock()
        ).returning(saga.c.version)
        async with self.session_factory.begin() as session:
            version = (await session.execute(update)).scalar_one_or_none()
            if version is None:
                if current_version is None:
                    raise SagaNotFoundError(saga_id)
                raise await self._refusal(session, saga_id, f"a write at version {current_version}")
        return typing.cast(int, version)

    @maps_driver_errors
    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        """Set the status (and the error, when given); a final status releases the claim.

        A resolved saga keeps its status (`SagaConcurrencyError`).
        """
        saga = self._saga
        update = (
            saga.update()
            .where(saga.c.id == saga_id, saga.c.status != SagaStatus.RESOLVED.value)
            .values(updated_at=self._clock(), **status_values(status, error))
        )
        async with self.session_factory.begin() as session:
            if await rows_changed(session, update) == 0:
                raise await self._refusal(session, saga_id, f"a move to {status.value}")

    @maps_driver_errors
    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaStepAction | typing.Literal["act", "compensate"],
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        """Append one entry to the step log, stamped with the clock's time."""
        insert = self._log.insert().values(
            log_values(saga_id, step_name, SagaStepAction(action), status, details, self._clock())
        )
        async with self.session_factory.begin() as session:
            await self._require(session, saga_id)
            await session.execute(insert)

    def create_run(self) -> contextlib.AbstractAsyncContextManager[SagaStorageRun]:
        """python-cqrs's scoped run over this storage (see `cqrs.saga.storage.run`)."""
        return scoped_run(self)

    @maps_driver_errors
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
        """In one transaction: the fenced saga update, the log entry and the outbox rows.

        Raises `SagaConcurrencyError`, writing nothing, when the version moved
        or the saga is finished; any failing insert (say, a message whose id
        the outbox holds already) also leaves everything as it was.
        """
        now = self._clock()
        update = (
            self._fenced(saga_id, current_version)
            .where(self._saga.c.status.not_in(FINAL_STATUSES))
            .values(
                context=dict(context),
                version=self._saga.c.version + 1,
                updated_at=now,
                **wait_values(wait),
                **status_values(saga_status, error),
                **({} if trace_context is None else {"trace_context": trace_context}),
            )
        )
        log = self._log.insert().values(
            log_values(saga_id, step_name, action, status, details, now)
        )
        async with self.session_factory.begin() as session:
            if await rows_changed(session, update) == 0:
                raise await self._refusal(session, saga_id, f"a write at version {current_version}")
            await session.execute(log)
            await self._stage(session, messages, now)
        return current_version + 1

    @maps_driver_errors
    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The step log in write order (by the log's id, never by timestamp); empty
        for an unknown saga."""
        async with self.session_factory.begin() as session:
            rows = (await session.execute(log_query(self._log, saga_id))).mappings().all()
        return [log_entry_of(saga_id, row) for row in rows]

    @maps_driver_errors
    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        """Take or renew the claim in one conditional UPDATE; False while another holds it."""
        now = self._clock()
        saga = self._saga
        update = (
            saga.update()
            .where(
                saga.c.id == saga_id,
                sa.or_(
                    saga.c.owner.is_(None),
                    saga.c.owner == owner,
                    saga.c.lease_until.is_(None),
                    saga.c.lease_until <= now,
                ),
            )
            .values(owner=owner, lease_until=now + lease)
        )
        async with self.session_factory.begin() as session:
            if await rows_changed(session, update) == 1:
                return True
            await self._require(session, saga_id)
        return False

    @maps_driver_errors
    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        """Drop `owner`'s claim; nothing happens when `owner` does not hold it."""
        saga = self._saga
        update = (
            saga.update()
            .where(saga.c.id == saga_id, saga.c.owner == owner)
            .values(owner=None, lease_until=None)
        )
        async with self.session_factory.begin() as session:
            if await rows_changed(session, update) == 0:
                await self._require(session, saga_id)

    @maps_driver_errors
    async def get_sagas_for_recovery(
        self,
        limit: int,
        max_recovery_attempts: int = 5,
        stale_after_seconds: float | None = None,
        saga_name: str | None = None,
        *,
        stale_after: datetime.timedelta = DEFAULT_STALE_AFTER,
    ) -> list[uuid.UUID]:
        """Ids of unfinished, unclaimed sagas that are overdue or stale, oldest first
        (of `saga_name` only, when given)."""
        now = self._clock()
        stale_after = staleness(stale_after, stale_after_seconds)
        saga = self._saga
        waiting = saga.c.waiting_deadline.is_not(None)
        named = sa.true() if saga_name is None else saga.c.name == saga_name
        query = (
            sa.select(saga.c.id)
            .where(
                saga.c.status.in_(_RECOVERABLE),
                named,
                saga.c.recovery_attempts < max_recovery_attempts,
                sa.or_(saga.c.lease_until.is_(None), saga.c.lease_until <= now),
                sa.or_(
                    sa.and_(waiting, saga.c.waiting_deadline <= now),
                    sa.and_(~waiting, saga.c.updated_at <= now - stale_after),
                ),
            )
            .order_by(saga.c.created_at, saga.c.id)
            .limit(limit)
        )
        async with self.session_factory.begin() as session:
            ids = (await session.execute(query)).scalars().all()
        return [typing.cast(uuid.UUID, saga_id) for saga_id in ids]

    @maps_driver_errors
    async def increment_recovery_attempts(self, saga_id: uuid.UUID) -> int:
        """Count one more recovery attempt; return the new count."""
        saga = self._saga
        update = (
            saga.update()
            .where(saga.c.id == saga_id)
            .values(recovery_attempts=saga.c.recovery_attempts + 1, updated_at=self._clock())
            .returning(saga.c.recovery_attempts)
        )
        async with self.session_factory.begin() as session:
            attempts = (await session.execute(update)).scalar_one_or_none()
        if attempts is None:
            raise SagaNotFoundError(saga_id)
        return typing.cast(int, attempts)

    # -- shared pieces --------------------------------------------------------

    def _fenced(self, saga_id: uuid.UUID, current_version: int) -> sa.Update:
        """An UPDATE of the saga that matches only at `current_version`."""
        saga = self._saga
        return saga.update().where(saga.c.id == saga_id, saga.c.version == current_version)

    async def _require(self, session: AsyncSession, saga_id: uuid.UUID) -> None:
        """Raise `SagaNotFoundError` unless the saga exists."""
        query = sa.select(self._saga.c.id).where(self._saga.c.id == saga_id)
        if (await session.execute(query)).first() is None:
            raise SagaNotFoundError(saga_id)

    async def _refusal(self, session: AsyncSession, saga_id: uuid.UUID, refused: str) -> Exception:
        """Why a fenced UPDATE (`refused`, as the error will say) matched no row: the saga
        is unknown, moved on or finished."""
        saga = self._saga
        query = sa.select(saga.c.version, saga.c.status).where(saga.c.id == saga_id)
        row = (await session.execute(query)).mappings().one_or_none()
        if row is None:
            return SagaNotFoundError(saga_id)
        return SagaConcurrencyError(
            f"saga {saga_id} moved on (version {row['version']}, status {row['status']}); "
            f"{refused} was refused"
        )

    async def _stage(
        self, session: AsyncSession, messages: typing.Sequence[Message], now: datetime.datetime
    ) -> None:
        """Insert `messages` into the outbox, in order, and wake the relays."""
        if not messages:
            return
        rows = [outbox_values(message, now, self._compressor) for message in messages]
        outbox = self.schema.outbox
        # One round trip: the rows and, on PostgreSQL, the relays' wake-up call.
        await session.run_sync(lambda sync: insert_notifying(sync.connection(), outbox, rows))
