"""`SqlAlchemyOutboxStore`: the relay's side of the SQL outbox (see `cqrs.outbox.relay`).

A claim is one transaction, held while the relay publishes:

* PostgreSQL (asyncpg): one statement locks the due rows `FOR UPDATE SKIP
  LOCKED`, so relays running at once take disjoint rows, and leaves for
  later each row whose key has an earlier row still pending elsewhere (held
  by another relay, or waiting for its retry), so no two relays publish one
  key's rows at once; see `cqrs_sqla.postgres_claim`. Closing the claim
  marks the failed rows, then the published ones together with the commit,
  which releases the locks. A relay that dies mid-claim rolls back: its
  rows go out again, with the same event ids. Once the store waits for rows
  (a relay running), that commit also begins the next claim's transaction,
  and the store keeps the connection for it: two round trips a claim, not
  three (`cqrs_sqla.postgres_claim.BegunConnection`).
* SQLite: claims are serialised across processes by an exclusive lock on a
  file next to the database (`<db>.relay.lock`, see `cqrs_sqla.relay_lock`),
  so relays take turns. The
  rows are read in one short transaction that takes no write lock
  (`cqrs_sqla.sqlite.begin_read`), and marked in another, so the database's
  single write lock is taken only to mark, never while the relay publishes.

`wait_for_rows` listens for the outbox's `NOTIFY` on PostgreSQL, so a relay
wakes as soon as rows commit; on a SQLite file it watches the bytes every
commit changes (`cqrs_sqla.sqlite_watch`, every 10 ms by default), so a relay
wakes within milliseconds of a commit by its own process or any other, once
a look at the outbox's newest pending row (`cqrs_sqla.sqlite_outbox_probe`)
says the commit added rows; an in-memory SQLite database waits for the poll
interval.

Rows must be written per key in commit order (the usual case when each
aggregate's writes are serialised by its own row lock): the relay orders a
key's rows by id.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import time
import types
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.clock import utc_now
from cqrs.compressors.protocol import Compressor
from cqrs.outbox.models import OutboxedEvent, OutboxStatus
from cqrs.outbox.relay import OutboxClaim, RetryPolicy, publishable
from cqrs_sqla.claim_outcomes import ERROR_LENGTH, ClaimOutcomes, status_after
from cqrs_sqla.databases import require_supported
from cqrs_sqla.driver_errors import maps_driver_errors
from cqrs_sqla.encoding import outbox_event
from cqrs_sqla.notify import channel, notify_relays
from cqrs_sqla.postgres_claim import BegunConnection, PostgresClaim
from cqrs_sqla.relay_lock import RelayLock
from cqrs_sqla.schema import Schema
from cqrs_sqla.sqlite import begin_read
from cqrs_sqla.sqlite_outbox_probe import PendingRowsProbe
from cqrs_sqla.sqlite_watch import SqliteCommitWatch

__all__ = ("SqlAlchemyOutboxStore",)


class SqlAlchemyOutboxStore:
    """`cqrs.outbox.relay.OutboxStore` on an SQLAlchemy async engine.

    On PostgreSQL the relay's marks (published, failed) commit without waiting
    for the WAL flush, which makes a batch about a sixth faster; a server crash
    can then cost a republish of the last second's rows, never a lost one (see
    `cqrs_sqla.postgres_claim.PostgresClaim`). `synchronous_marks=True` makes
    them wait as every other commit does.

    On PostgreSQL, once `wait_for_rows` was called the store holds two pooled
    connections until `close`: the one listening for new rows, and the last
    claim's, its next transaction begun (see `cqrs_sqla.postgres_claim`).

    On a SQLite file, `wait_for_rows` looks for a commit every
    `sqlite_watch_interval` seconds (`cqrs_sqla.sqlite_watch`): a few
    microseconds a look, no query. After a commit it reads the outbox's newest
    pending row id (`cqrs_sqla.sqlite_outbox_probe`, one indexed statement) and
    returns only if that changed to a row: commits that add no outbox row (most
    of a service's) cost no claim.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        schema: Schema,
        *,
        compressor: Compressor | None = None,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        synchronous_marks: bool = False,
        sqlite_watch_interval: float = 0.01,
    ) -> None:
        require_supported(engine.dialect, "SqlAlchemyOutboxStore")
        self.engine = engine
        self.schema = schema
        self.compressor = compressor
        self.clock = clock
        self.synchronous_marks = synchronous_marks
        self._listener: typing.Any = None  # the asyncpg connection LISTENing, once started
        self._listener_source: AsyncConnection | None = None
        self._notified = asyncio.Event()
        self._commits = _commit_watch(engine, sqlite_watch_interval)
        # The claims' kept connection, once the store waits for rows (a relay runs).
        self._begun = BegunConnection()
        self._pending = None if self._commits is None else self._pending_probe()
        self._probed = False

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def claim(self, limit: int, retry: RetryPolicy) -> OutboxClaim:
        """A batch of due rows, held until the claim is closed."""
        if self.is_postgresql:
            return PostgresClaim(
                self.engine,
                self.schema.outbox,
                limit=limit,
                retry=retry,
                compressor=self.compressor,
                clock=self.clock,
                synchronous_marks=self.synchronous_marks,
                # A notification heard by now is of rows the claim's statement will
                # see: forgetting it spares the relay an empty claim after this one.
                # One heard later (rows it may miss) still wakes the relay.
                before_take=self._notified.clear,
                # Kept only for a store that waits for rows, which its owner closes; one
                # that is only asked for claims now and then hands each connection back.
                begun=self._begun if self._listener is not None else None,
            )
        return _SqliteClaim(self, limit, retry)

    @maps_driver_errors
    async def wait_for_rows(self, timeout: float) -> None:
        """Return when the outbox was notified of new rows, or after `timeout` seconds."""
        if self._commits is not None:
            if self._pending is not None and not self._probed:
                # The baseline, taken with the watch's: and from now on a connection
                # of this process keeps a WAL file's index (`-shm`, which the watch
                # reads) from being deleted by another process's last close.
                self._pending.changed()
                self._probed = True
            deadline = time.monotonic() + timeout
            while await self._commits.changed(max(0.0, deadline - time.monotonic())):
                if self._pending is None or self._pending.changed():
                    return
            return
        if self.is_postgresql:
            await self._listen()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._notified.wait(), timeout)
        self._notified.clear()

    @maps_driver_errors
    async def dead_rows(
        self, limit: int = 100, *, topic: str | None = None, after: int = 0
    ) -> list[OutboxedEvent]:
        """Rows given up after too many failed attempts, oldest first: those of `topic`
        when given, with ids above `after` (`cqrs_sqla.outbox_admin` pages with it)."""
        outbox = self.schema.outbox
        query = (
            self._select()
            .where(outbox.c.status == OutboxStatus.DEAD.value, outbox.c.id > after)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if topic is not None:
            query = query.where(outbox.c.topic == topic)
        async with self.engine.connect() as connection:
            return [self._row(row) for row in await connection.execute(query)]

    @maps_driver_errors
    async def replay_dead(self, ids: typing.Collection[int] | None = None) -> int:
        """Make dead rows (all, or those in `ids`) pending again, due now; return how many."""
        async with self.engine.begin() as connection:
            return len(await self.replay_rows(connection, ids))

    async def replay_rows(
        self, connection: AsyncConnection, ids: typing.Collection[int] | None = None
    ) -> list[int]:
        """In `connection`'s transaction, make dead rows (all, or those in `ids`) pending
        again, due now, attempts reset, and wake the relays; return the ids replayed."""
        outbox = self.schema.outbox
        statement = (
            outbox.update()
            .where(outbox.c.status == OutboxStatus.DEAD.value)
            .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=self.clock())
            .returning(outbox.c.id)
        )
        if ids is not None:
            statement = statement.where(outbox.c.id.in_(list(ids)))
        replayed = sorted((await connection.execute(statement)).scalars())
        if replayed and self.is_postgresql:
            await connection.execute(notify_relays(outbox))
        return replayed

    @maps_driver_errors
    async def purge_published(self, older_than: datetime.datetime) -> int:
        """Delete rows published before `older_than` (the retention policy); return how many."""
        outbox = self.schema.outbox
        async with self.engine.begin() as connection:
            result = await connection.execute(
                outbox.delete().where(
                    outbox.c.status == OutboxStatus.PUBLISHED.value,
                    outbox.c.published_at < older_than,
                )
            )
            return result.rowcount

    @maps_driver_errors
    async def close(self) -> None:
        """Stop listening for notifications and hand back the claims' kept connection (on
        SQLite, close the probe's connection)."""
        if self._pending is not None:
            self._pending.close()
        source, listener = self._listener_source, self._listener
        self._listener_source = self._listener = None
        try:
            if listener is not None:
                # The connection goes back to the pool: it must not stay subscribed.
                await listener.remove_listener(channel(self.schema), self._on_notify)
        finally:
            try:
                if source is not None:
                    await source.close()
            finally:
                await self._begun.close()

    async def _drop_listener(self) -> None:
        """Forget a listening connection that died, without failing on it."""
        source = self._listener_source
        self._listener_source = self._listener = None
        if source is not None:
            with contextlib.suppress(Exception):
                await source.invalidate()
                await source.close()

    async def _listen(self) -> None:
        if self._listener is not None:
            if not self._listener.is_closed():
                return
            # The server went away (restart, failover): listen again on a new
            # connection, and look at the table once, as notifications sent
            # meanwhile were lost.
            await self._drop_listener()
            self._notified.set()
        source = await self.engine.connect()
        raw = await source.get_raw_connection()
        driver = typing.cast(typing.Any, raw.driver_connection)
        await driver.add_listener(channel(self.schema), self._on_notify)
        self._listener_source, self._listener = source, driver

    def _on_notify(self, *_: object) -> None:
        self._notified.set()

    def _forget_pending(self) -> None:
        """A claim failed: its rows are still pending, so the next commit wakes the relay
        whatever the probe saw."""
        if self._pending is not None:
            self._pending.forget()

    def _pending_probe(self) -> PendingRowsProbe:
        database = self.engine.url.database
        assert database is not None
        outbox, quote = self.schema.outbox, self.engine.dialect.identifier_preparer
        # Named: without statistics SQLite's planner prefers the (status, published_at)
        # index, and reads every pending row of it; the partial index of pending ids
        # answers max(id) from its last entry. Where the index is missing the look
        # fails, and the relay claims on every commit, as without the probe.
        (index,) = (
            index for index in outbox.indexes if index.name == f"ix_{outbox.name}_pending_id"
        )
        query = (
            f"SELECT max({quote.quote('id')}) FROM {quote.format_table(outbox)}"
            f" INDEXED BY {quote.quote(str(index.name))}"
            f" WHERE {quote.quote('status')} = '{OutboxStatus.PENDING.value}'"
        )
        return PendingRowsProbe(database, query)

    def _select(self) -> sa.Select[typing.Any]:
        outbox = self.schema.outbox
        return sa.select(
            outbox.c.id,
            outbox.c.event_id,
            outbox.c.event_name,
            outbox.c.topic,
            outbox.c.partition_key,
            outbox.c.payload,
            outbox.c.content_encoding,
            outbox.c.traceparent,
            outbox.c.tracestate,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.created_at,
            outbox.c.next_attempt_at,
            outbox.c.last_error,
        )

    def _row(self, row: sa.Row[typing.Any]) -> OutboxedEvent:
        return outbox_event(row._mapping, self.compressor)  # pyright: ignore[reportPrivateUsage]


class _SqliteClaim(ClaimOutcomes):
    """One relay's batch on SQLite: read under the file lock, marked in a second
    transaction when closed."""

    def __init__(self, store: SqlAlchemyOutboxStore, limit: int, retry: RetryPolicy) -> None:
        super().__init__(retry)
        self._store = store
        self._limit = limit
        self._connection: AsyncConnection | None = None
        self._relay_lock = _relay_lock(store.engine)

    @maps_driver_errors
    async def __aenter__(self) -> _SqliteClaim:
        store = self._store
        if self._relay_lock is not None:
            await self._relay_lock.__aenter__()
        self._connection = connection = await store.engine.connect()
        try:
            # Reads only, so no write lock: the relays wake on every commit to the
            # file, and most claims find nothing; the file lock keeps other relays out.
            await begin_read(connection)
            self._rows = await self._take(connection)
            # Holding even the read open while publishing would keep WAL from
            # checkpointing past its snapshot (and, in the rollback journal a
            # `wal=False` file may keep, make every writer's commit wait for its
            # shared lock); the marks take the write lock in their own.
            await connection.commit()
        except BaseException:
            self._store._forget_pending()  # pyright: ignore[reportPrivateUsage]
            await self._close(commit=False)
            raise
        return self

    @maps_driver_errors
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                await self._mark()
            except BaseException:
                self._store._forget_pending()  # pyright: ignore[reportPrivateUsage]
                await self._close(commit=False)
                raise
        else:
            self._store._forget_pending()  # pyright: ignore[reportPrivateUsage]
        await self._close(commit=exc is None)

    async def _take(self, connection: AsyncConnection) -> list[OutboxedEvent]:
        store, outbox = self._store, self._store.schema.outbox
        now = store.clock()
        query = (
            store._select()  # pyright: ignore[reportPrivateUsage]
            .where(outbox.c.status == OutboxStatus.PENDING.value, outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(self._limit)
        )
        candidates = [
            store._row(row)  # pyright: ignore[reportPrivateUsage]
            for row in await connection.execute(query)
        ]
        keys = sorted({row.message.key for row in candidates if row.message.key is not None})
        if not candidates:
            return []
        return publishable(candidates, await self._pending_ids(connection, keys, candidates[-1].id))

    async def _pending_ids(
        self, connection: AsyncConnection, keys: list[str], up_to: int
    ) -> dict[str, list[int]]:
        outbox = self._store.schema.outbox
        pending: dict[str, list[int]] = collections.defaultdict(list)
        if not keys:
            return pending
        result = await connection.execute(
            sa.select(outbox.c.partition_key, outbox.c.id)
            .where(
                outbox.c.status == OutboxStatus.PENDING.value,
                outbox.c.partition_key.in_(keys),
                outbox.c.id <= up_to,
            )
            .order_by(outbox.c.id)
        )
        for key, row_id in result:
            pending[key].append(row_id)
        return pending

    async def _mark(self) -> None:
        connection, store = self._connection, self._store
        assert connection is not None
        if not connection.in_transaction():
            await connection.begin()
        outbox, now = store.schema.outbox, store.clock()
        if self._done:
            await connection.execute(
                outbox.update()
                .where(outbox.c.id.in_(self._done))
                .values(
                    status=OutboxStatus.PUBLISHED.value,
                    attempts=outbox.c.attempts + 1,
                    published_at=now,
                )
            )
        for row_id, (attempts, error) in self._errors.items():
            await connection.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(
                    status=status_after(attempts, self._retry).value,
                    attempts=attempts,
                    next_attempt_at=now + self._retry.delay(attempts),
                    last_error=error[:ERROR_LENGTH],
                )
            )

    async def _close(self, *, commit: bool) -> None:
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                if commit and connection.in_transaction():
                    await connection.commit()
                await connection.close()
        finally:
            if self._relay_lock is not None:
                await self._relay_lock.__aexit__(None, None, None)


def _database_file(engine: AsyncEngine) -> str | None:
    """The file of a SQLite engine's database; None in memory, and for PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return database


def _relay_lock(engine: AsyncEngine) -> RelayLock | None:
    """The lock relays on a SQLite database file take turns on; none in memory."""
    database = _database_file(engine)
    return None if database is None else RelayLock(f"{database}.relay.lock")


def _commit_watch(engine: AsyncEngine, interval: float) -> SqliteCommitWatch | None:
    """What tells a relay on a SQLite file of new commits; None elsewhere."""
    database = _database_file(engine)
    return None if database is None else SqliteCommitWatch(database, interval=interval)
