"""`SqlAlchemySagaStorage`: the cqrs-core saga storage on SQLAlchemy 2 (async).

Sagas live in the schema's `saga` table (one row each: status, JSON context,
version, claim, what the saga waits for) and their step log in `saga_log`,
read back in the order of its monotonic id. `record_step` stages the step's
messages in the schema's outbox table in the same transaction as the step,
so they are published if, and only if, the step is recorded.

Every method is one short transaction. On PostgreSQL (a session factory bound
to an engine) each is a single statement run in autocommit, one round trip
(the hot ones prepared on the asyncpg connection, `cqrs_sqla.saga_pg`):
`record_step` moves the saga, appends the log entry and stages the messages
(and wakes the relays) in one statement of data-modifying CTEs, which
commits or fails as a whole; nothing written is read back. Only a refused
write pays a second statement, to say why. On SQLite, and on a factory bound
otherwise, the statements of a method share one transaction. A factory
bound to a PostgreSQL connection inside a transaction (a unit of work's,
which the storage joins) gets the same single statements, sent in that
transaction: `record_step` there is one round trip instead of one per table.

Times come from the storage's clock, never from the database's `now()`: the
workers' clocks must agree for leases and staleness to mean the same to all
of them. On SQLite, create the engine with `cqrs_sqla.create_engine` (or
`cqrs_sqla.sqlite.configure_sqlite`): concurrent writers need its `BEGIN
IMMEDIATE` transactions.

```python
engine = create_engine("sqlite+aiosqlite:///app.db")  # or "postgresql+asyncpg://..."
storage = SqlAlchemySagaStorage(async_sessionmaker(engine), Schema())
```
"""

from __future__ import annotations

import collections.abc
import contextlib
import datetime
import typing
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

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
from cqrs_sqla.joined_driver import deferred_begin
from cqrs_sqla.notify import insert_notifying
from cqrs_sqla.saga_pg import SagaStatements, on_driver, saga_statements
from cqrs_sqla.saga_rows import (
    FINAL_STATUSES,
    log_entries_of,
    log_entry_of,
    log_query,
    log_values,
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
    `changes_channel` (`cqrs_sqla.saga_changes.changes_channel(schema)`), on
    PostgreSQL through an engine, makes `record_step` and `update_status` send
    the saga's id on that channel in their own statement (`notifies_changes`),
    so that `NotifyingSagaStorage` needs no statement of its own to tell other
    processes; through a connection in a transaction, `record_step` sends it
    in its statement too, and the server delivers it when (and only if) the
    transaction commits (`notifies_changes` stays False: `update_status` does
    not there); elsewhere it is ignored.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        schema: Schema | None = None,
        *,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        compressor: Compressor | None = None,
        changes_channel: str | None = None,
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
        self._autocommit = _autocommit_engine(session_factory)
        # The hot statements, on the asyncpg connection (cqrs_sqla.saga_pg).
        self._pg = (
            None
            if self._autocommit is None
            else (
                self._autocommit,
                saga_statements(self._autocommit.dialect, self.schema, changes_channel),
            )
        )

        # The same statements on a PostgreSQL connection the factory is bound to; their
        # NOTIFY, if any, is sent when the caller's transaction commits.
        bind = session_factory.kw.get("bind")
        self._joined = (
            (bind, saga_statements(bind.dialect, self.schema, changes_channel))
            if isinstance(bind, AsyncConnection) and bind.dialect.name == "postgresql"
            else None
        )

    async def _joined_driver(self) -> tuple[typing.Any, SagaStatements] | None:
        """The asyncpg connection of the PostgreSQL connection the factory is bound to,
        with the statements, when a transaction is open on it (the statements then join
        that transaction); None otherwise (the SQLAlchemy path begins one)."""
        if self._joined is None:
            return None
        connection, statements = self._joined
        raw = await connection.get_raw_connection()
        driver = typing.cast(typing.Any, raw.driver_connection)
        if not driver.is_in_transaction() and connection.in_transaction():
            # SQLAlchemy's asyncpg adapter sends the BEGIN of a transaction it began with
            # its first statement: a transaction whose first write is this storage's
            # would otherwise take the SQLAlchemy path. Send it now (the same round
            # trip), through the adapter, so that SQLAlchemy knows it was sent.
            begin = deferred_begin(raw)
            if begin is not None:
                await begin
        return (driver, statements) if driver.is_in_transaction() else None

    @property
    def notifies_changes(self) -> bool:
        """Whether `record_step` and `update_status` send `NOTIFY` on the changes channel."""
        return self._pg is not None and self._pg[1].notifies_changes

    def _transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for one method's statements: in autocommit on PostgreSQL (each
        method is one statement there), else inside a transaction committed at the end."""
        if self._autocommit is not None:
            return self._autocommit.connect()
        return _session_transaction(self.session_factory)

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
        if self._pg is not None:
            engine, statements = self._pg
            created = await on_driver(
                engine,
                lambda driver: statements.create(
                    driver, saga_id, name, context, claim[0], claim[1], now, trace_context
                ),
            )
            if not created:
                raise SagaAlreadyExistsError(saga_id)
            return
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
        async with self._transaction() as connection:
            insert = insert_unless_present(
                connection.dialect, self._saga, values, "SqlAlchemySagaStorage"
            )
            created = (await connection.execute(insert)).rowcount == 1
        if not created:
            raise SagaAlreadyExistsError(saga_id)

    @maps_driver_errors
    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState:
        """The saga's status, context (a fresh dict), version and what it waits for."""
        row: typing.Mapping[typing.Any, typing.Any] | None
        if self._pg is not None:
            engine, statements = self._pg
            row = await on_driver(engine, lambda driver: statements.load(driver, saga_id))
        else:
            query = sa.select(self._saga).where(self._saga.c.id == saga_id)
            async with self._transaction() as connection:
                row = (await connection.execute(query)).mappings().one_or_none()
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
        async with self._transaction() as connection:
            version = (await connection.execute(update)).scalar_one_or_none()
            if version is None:
                if current_version is None:
                    raise SagaNotFoundError(saga_id)
                raise await self._refusal(
                    connection, saga_id, f"a write at version {current_version}"
                )
        return typing.cast(int, version)

    @maps_driver_errors
    async def update_status(
        self, saga_id: uuid.UUID, status: SagaStatus, error: str | None = None
    ) -> None:
        """Set the status (and the error, when given); a final status releases the claim.

        A resolved saga keeps its status (`SagaConcurrencyError`).
        """
        now = self._clock()
        if self._pg is not None:
            engine, statements = self._pg
            moved = await on_driver(
                engine, lambda driver: statements.move(driver, saga_id, status, error, now)
            )
        else:
            saga = self._saga
            update = (
                saga.update()
                .where(saga.c.id == saga_id, saga.c.status != SagaStatus.RESOLVED.value)
                .values(updated_at=now, **status_values(status, error))
            )
            async with self._transaction() as connection:
                moved = (await connection.execute(update)).rowcount == 1
        if not moved:
            async with self._transaction() as connection:
                raise await self._refusal(connection, saga_id, f"a move to {status.value}")

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
        values = log_values(
            saga_id, step_name, SagaStepAction(action), status, details, self._clock()
        )
        # One statement: the entry is inserted only if the saga exists.
        saga = self._saga
        entry = sa.select(
            *(
                saga.c.id if column == "saga_id" else sa.literal(value, self._log.c[column].type)
                for column, value in values.items()
            )
        ).where(saga.c.id == saga_id)
        insert = self._log.insert().from_select(list(values), entry)
        async with self._transaction() as connection:
            if (await connection.execute(insert)).rowcount == 0:
                raise SagaNotFoundError(saga_id)

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
        entry = log_values(saga_id, step_name, action, status, details, now)
        rows = [outbox_values(message, now, self._compressor) for message in messages]
        joined = await self._joined_driver()
        if self._pg is not None or joined is not None:

            def record(driver: typing.Any, statements: SagaStatements) -> typing.Awaitable[bool]:
                return statements.record(
                    driver,
                    saga_id,
                    current_version,
                    context=context,
                    now=now,
                    wait=wait_values(wait),
                    status=saga_status,
                    error=error,
                    entry=entry,
                    rows=rows,
                    trace_context=trace_context,
                )

            if joined is not None:
                moved = await record(*joined)
            else:
                assert self._pg is not None
                engine, statements = self._pg
                moved = await on_driver(engine, lambda driver: record(driver, statements))
        else:
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
            async with self._transaction() as connection:
                moved = await self._record_in_steps(connection, update, entry, rows)
        if not moved:
            async with self._transaction() as connection:
                raise await self._refusal(
                    connection, saga_id, f"a write at version {current_version}"
                )
        return current_version + 1

    async def _record_in_steps(
        self,
        connection: AsyncConnection,
        update: sa.Update,
        entry: dict[str, object],
        rows: list[dict[str, typing.Any]],
    ) -> bool:
        """`record_step` as one statement per table, in the connection's transaction;
        False, writing nothing, when the fenced UPDATE was refused."""
        if (await connection.execute(update)).rowcount == 0:
            return False
        await connection.execute(self._log.insert().values(entry))
        if rows:
            outbox = self.schema.outbox
            await connection.run_sync(lambda sync: insert_notifying(sync, outbox, rows))
        return True

    @maps_driver_errors
    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The step log in write order (by the log's id, never by timestamp); empty
        for an unknown saga."""
        rows: typing.Sequence[typing.Any]
        if self._pg is not None:
            engine, statements = self._pg
            rows = await on_driver(engine, lambda driver: statements.history(driver, saga_id))
        else:
            async with self._transaction() as connection:
                rows = (await connection.execute(log_query(self._log, saga_id))).mappings().all()
        return [log_entry_of(saga_id, row) for row in rows]

    @maps_driver_errors
    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        """Take or renew the claim in one conditional UPDATE; False while another holds it."""
        now = self._clock()
        if self._pg is not None:
            engine, statements = self._pg
            claimed, found = await on_driver(
                engine, lambda driver: statements.claim(driver, saga_id, owner, now, now + lease)
            )
            if not found:
                raise SagaNotFoundError(saga_id)
            return claimed
        update = self._claim_update(saga_id, owner, now, lease)
        async with self._transaction() as connection:
            if (await connection.execute(update)).rowcount == 1:
                return True
            await self._require(connection, saga_id)
        return False

    @maps_driver_errors
    async def claim_and_load(
        self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta
    ) -> tuple[SagaState, list[SagaLogEntry]] | None:
        """`claim`, then the saga's state and step log as the claim left them: one
        statement on PostgreSQL, one transaction elsewhere. None, reading nothing,
        while another holds the saga (`cqrs.saga.storage.protocol.ClaimingSagaStorage`)."""
        now = self._clock()
        if self._pg is not None:
            engine, statements = self._pg
            row, found = await on_driver(
                engine,
                lambda driver: statements.claim_and_load(driver, saga_id, owner, now, now + lease),
            )
            if not found:
                raise SagaNotFoundError(saga_id)
            if row is None:
                return None
            return state_of(row), log_entries_of(saga_id, row)
        async with self._transaction() as connection:
            if (
                await connection.execute(self._claim_update(saga_id, owner, now, lease))
            ).rowcount != 1:
                await self._require(connection, saga_id)
                return None
            query = sa.select(self._saga).where(self._saga.c.id == saga_id)
            row = (await connection.execute(query)).mappings().one()
            rows = (await connection.execute(log_query(self._log, saga_id))).mappings().all()
        return state_of(row), [log_entry_of(saga_id, entry) for entry in rows]

    @maps_driver_errors
    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        """Drop `owner`'s claim; nothing happens when `owner` does not hold it."""
        if self._pg is not None:
            engine, statements = self._pg
            _, found = await on_driver(
                engine, lambda driver: statements.release(driver, saga_id, owner)
            )
            if not found:
                raise SagaNotFoundError(saga_id)
            return
        saga = self._saga
        update = (
            saga.update()
            .where(saga.c.id == saga_id, saga.c.owner == owner)
            .values(owner=None, lease_until=None)
        )
        async with self._transaction() as connection:
            if (await connection.execute(update)).rowcount == 0:
                await self._require(connection, saga_id)

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
        async with self._transaction() as connection:
            ids = (await connection.execute(query)).scalars().all()
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
        async with self._transaction() as connection:
            attempts = (await connection.execute(update)).scalar_one_or_none()
        if attempts is None:
            raise SagaNotFoundError(saga_id)
        return typing.cast(int, attempts)

    # -- shared pieces --------------------------------------------------------

    def _claim_update(
        self, saga_id: uuid.UUID, owner: str, now: datetime.datetime, lease: datetime.timedelta
    ) -> sa.Update:
        """The UPDATE that takes or renews `owner`'s claim unless another holds it."""
        saga = self._saga
        return (
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

    def _fenced(self, saga_id: uuid.UUID, current_version: int) -> sa.Update:
        """An UPDATE of the saga that matches only at `current_version`."""
        saga = self._saga
        return saga.update().where(saga.c.id == saga_id, saga.c.version == current_version)

    async def _require(self, connection: AsyncConnection, saga_id: uuid.UUID) -> None:
        """Raise `SagaNotFoundError` unless the saga exists."""
        query = sa.select(self._saga.c.id).where(self._saga.c.id == saga_id)
        if (await connection.execute(query)).first() is None:
            raise SagaNotFoundError(saga_id)

    async def _refusal(
        self, connection: AsyncConnection, saga_id: uuid.UUID, refused: str
    ) -> Exception:
        """Why a fenced UPDATE (`refused`, as the error will say) matched no row: the saga
        is unknown, moved on or finished."""
        saga = self._saga
        query = sa.select(saga.c.version, saga.c.status).where(saga.c.id == saga_id)
        row = (await connection.execute(query)).mappings().one_or_none()
        if row is None:
            return SagaNotFoundError(saga_id)
        return SagaConcurrencyError(
            f"saga {saga_id} moved on (version {row['version']}, status {row['status']}); "
            f"{refused} was refused"
        )


def _autocommit_engine(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncEngine | None:
    """The factory's engine in autocommit, when it is bound to a PostgreSQL engine: there
    every method is one statement, its own transaction, with no BEGIN and COMMIT round trips."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return bind.execution_options(isolation_level="AUTOCOMMIT")
    return None


@contextlib.asynccontextmanager
async def _session_transaction(
    session_factory: async_sessionmaker[AsyncSession],
) -> collections.abc.AsyncGenerator[AsyncConnection, None]:
    """The connection of a new session's transaction, committed when the block ends."""
    async with session_factory.begin() as session:
        yield await session.connection()
