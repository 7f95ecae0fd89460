"""The relay's claim on PostgreSQL: one statement to take a batch, one to mark it.

A claim is one transaction, run on the asyncpg connection under the
engine's pooled one (the relay's hot loop: no ORM, no per-batch compile).
Taking a batch is a single statement that

* locks the first due rows `FOR UPDATE SKIP LOCKED`, so relays running at
  once take disjoint rows;
* drops each row that has an earlier pending row of its key outside the
  batch (held by another relay, or waiting for its retry), so a key's rows
  go out in id order.

That check is also what keeps two relays off one key at the same time: a
relay holding a key's earlier rows keeps them pending, in every other
relay's view, until it commits, so the others drop the key's later rows.
(A row another relay publishes while the statement runs still counts as
pending in the statement's snapshot, so the check errs on the side of
waiting.) It needs one key's rows to be committed in id order, which holds
when each aggregate's writes are serialised, as they are by its own row
lock. Per-key advisory locks, which an earlier version also took, added
nothing to that and cost about a tenth of a batch's time to take and
release; `test_relays_at_once_keep_each_keys_order_through_random_failures`
runs four relays against a failing broker to hold the claim to it.

Closing the claim marks the failed rows (backoff, or dead after the last
attempt) in one statement, then the published ones and commits in one round
trip, which releases the locks. A relay that dies mid-claim rolls back: its
rows go out again, with the same event ids.

With a `BegunConnection` (the store gives one to the claims of a relay that
waits for rows), the round trip that commits also begins the next claim's
transaction, and the connection is kept for that claim instead of going back
to the pool: a claim is then two round trips to the server (take; mark,
commit and begin), not three. The transaction kept open between claims has
run nothing but `BEGIN` and `SET LOCAL`, which take no snapshot and no lock:
it holds back neither vacuum nor DDL, and a relay that dies with it open
loses nothing.

```python
async with PostgresClaim(engine, schema.outbox, limit=100, retry=RetryPolicy()) as claim:
    for row in claim.rows:
        claim.published(row)
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import types
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.clock import utc_now
from cqrs.compressors.protocol import Compressor
from cqrs.outbox.models import OutboxStatus
from cqrs.outbox.relay import RetryPolicy
from cqrs_sqla.claim_outcomes import ERROR_LENGTH, ClaimOutcomes, status_after
from cqrs_sqla.driver_errors import is_asyncpg_error, maps_driver_errors, unavailable
from cqrs_sqla.encoding import outbox_event

__all__ = ("BegunConnection", "PostgresClaim")

# Opens a claim's transaction, in the same round trip telling the server to
# run the claim on its cached generic plan: PostgreSQL otherwise goes back to
# planning it for every batch after each ANALYZE of the table, for a while or
# for good, depending on its estimates.
_BEGIN: typing.Final = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"
# The same, with a commit that does not wait for the WAL flush (see
# `PostgresClaim`): a mark lost to a crash only republishes rows.
_BEGIN_ASYNCHRONOUS: typing.Final = f"{_BEGIN}; SET LOCAL synchronous_commit = off"


@dataclasses.dataclass(frozen=True)
class _Statements:
    """The claim's SQL for one outbox table, built once per table."""

    take: str
    mark_failed: str
    # The published rows' UPDATE up to its values (see `publish_and_commit`).
    mark_published_at: str

    def publish_and_commit(
        self, ids: typing.Iterable[int], now: datetime.datetime, then: str = ""
    ) -> str:
        """The text of one simple-protocol query that marks `ids` published at `now`
        and commits, followed by `then` (the next claim's `BEGIN`, or nothing): one
        round trip where a parameterised UPDATE and a COMMIT take two.
        Only integers and a timestamp formatted here go into the text."""
        id_list = ",".join(str(int(row_id)) for row_id in ids)
        if now.tzinfo is None:  # as asyncpg reads a naive timestamp: UTC
            now = now.replace(tzinfo=datetime.timezone.utc)
        return (
            f"{self.mark_published_at} '{now.isoformat()}'::timestamptz "
            f"WHERE id = ANY('{{{id_list}}}'::bigint[]); COMMIT{then}"
        )


@functools.lru_cache(maxsize=64)
def _statements(table: str, limit: int) -> _Statements:
    """The statements for `table`, a quoted (and maybe schema-qualified) name, taking
    batches of up to `limit` rows."""
    return _Statements(
        # $1: now. The batch size is written into the text, not passed: knowing
        # it, PostgreSQL settles on one generic plan instead of planning every
        # claim again. The materialized CTEs run once each, in full (so every
        # candidate row is locked), before the final SELECT reads them.
        take=f"""
            WITH candidate AS MATERIALIZED (
                SELECT id, event_id, event_name, topic, partition_key, payload,
                       content_encoding, traceparent, tracestate, attempts, created_at,
                       last_error
                FROM {table}
                WHERE status = 'pending' AND next_attempt_at <= $1
                ORDER BY id LIMIT {int(limit)}
                FOR UPDATE SKIP LOCKED
            ),
            -- How many pending rows up to the batch's last id the batch does not
            -- hold. Usually none: then no row can have an earlier pending row of
            -- its key outside the batch, and the per-row probe below is skipped.
            outside AS MATERIALIZED (
                SELECT count(*) - (SELECT count(*) FROM candidate) AS rows
                FROM {table}
                WHERE status = 'pending' AND id <= (SELECT max(id) FROM candidate)
            )
            -- Every claimed row is pending and due: `next_attempt_at` NULL says so
            -- without decoding a timestamp per row.
            SELECT claimed.*, 'pending' AS status, NULL::timestamptz AS next_attempt_at
            FROM candidate AS claimed
            WHERE claimed.partition_key IS NULL OR (
                -- CASE, not OR: it fixes the order, so the probe runs only if needed.
                CASE WHEN (SELECT rows FROM outside) = 0 THEN true ELSE NOT EXISTS (
                    SELECT 1 FROM {table} AS earlier
                    WHERE earlier.status = 'pending'
                      AND earlier.partition_key = claimed.partition_key
                      AND earlier.id < claimed.id
                      AND earlier.id NOT IN (SELECT id FROM candidate)
                ) END
            )
            ORDER BY claimed.id
        """,
        mark_published_at=f"""
            UPDATE {table}
            SET status = '{OutboxStatus.PUBLISHED.value}', attempts = attempts + 1,
                published_at =""",
        # One row per failed id: its new status, attempts, next try and error.
        mark_failed=f"""
            UPDATE {table} AS target
            SET status = failed.status, attempts = failed.attempts,
                next_attempt_at = failed.next_attempt_at, last_error = failed.last_error
            FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[])
                AS failed(id, status, attempts, next_attempt_at, last_error)
            WHERE target.id = failed.id
        """,
    )


class BegunConnection:
    """Where a relay's claims keep their connection between claims, its next claim's
    transaction begun by the round trip that committed the last one (see the module).

    It holds one connection at most: a claim that finds it taken (claims of one
    store running at once) begins and ends its own transaction as usual. A kept
    connection the server dropped meanwhile is discarded when the next claim
    takes it. `close` rolls the kept transaction back and returns the connection
    to its pool; the store closes it with its listener.
    """

    def __init__(self) -> None:
        self._kept: tuple[AsyncConnection, typing.Any] | None = None
        self._promised = False

    async def take(self) -> tuple[AsyncConnection, typing.Any] | None:
        """The kept connection and its asyncpg connection, in a begun transaction; None
        when there is none (or it died, which is then discarded)."""
        kept, self._kept = self._kept, None
        if kept is None:
            return None
        source, driver = kept
        if driver.is_closed() or not driver.is_in_transaction():
            with contextlib.suppress(Exception):
                await source.invalidate()
                await source.close()
            return None
        return kept

    def promise(self) -> bool:
        """Reserve the place for a claim's connection; False if it is held or promised."""
        if self._kept is not None or self._promised:
            return False
        self._promised = True
        return True

    def keep(self, source: AsyncConnection, driver: typing.Any) -> None:
        """Keep the connection of the claim that was promised the place."""
        self._promised = False
        self._kept = (source, driver)

    def withdraw(self) -> None:
        """Give up the place a claim was promised (its commit failed)."""
        self._promised = False

    async def close(self) -> None:
        """Roll the kept transaction back and return its connection to the pool."""
        kept, self._kept = self._kept, None
        if kept is None:
            return
        source, driver = kept
        try:
            if not driver.is_closed() and driver.is_in_transaction():
                with contextlib.suppress(Exception):
                    await driver.execute("ROLLBACK")
        finally:
            if driver.is_closed() or driver.is_in_transaction():
                await source.invalidate()
            await source.close()


class PostgresClaim(ClaimOutcomes):
    """One relay's batch on PostgreSQL: a transaction from `__aenter__` to `__aexit__`.

    The engine must use the asyncpg driver. Unless `synchronous_marks` is set,
    the transaction commits with `synchronous_commit = off`: the relay does not
    wait for the server to flush its marks to disk. A server crash can then
    lose the marks of about the last second (`wal_writer_delay` x 3), and
    those rows are published again with the same event ids, as after a relay
    crash: at-least-once delivery, which consumers' inboxes make exactly-once
    in effect. Nothing else is at risk: the rows themselves were written by
    the application's own, synchronous, commits.

    `before_take` is called just before the statement that takes the batch is
    sent: every row committed by then is in that statement's snapshot.

    With `begun`, the claim takes the connection kept there (its transaction
    begun), and its commit begins the next claim's transaction and keeps the
    connection there again (see the module).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        *,
        limit: int,
        retry: RetryPolicy,
        compressor: Compressor | None = None,
        clock: typing.Callable[[], datetime.datetime] = utc_now,
        synchronous_marks: bool = False,
        before_take: typing.Callable[[], None] | None = None,
        begun: BegunConnection | None = None,
    ) -> None:
        super().__init__(retry)
        self._engine = engine
        self._begun = begun
        self._before_take = before_take
        self._begin = _BEGIN if synchronous_marks else _BEGIN_ASYNCHRONOUS
        self._statements = _statements(
            engine.dialect.identifier_preparer.format_table(table), limit
        )
        self._compressor = compressor
        self._clock = clock
        self._source: AsyncConnection | None = None
        # The asyncpg connection under the pooled one. Its transaction is begun and
        # ended with plain BEGIN/COMMIT/ROLLBACK, so the last UPDATE can share the
        # COMMIT's round trip.
        self._driver: typing.Any = None

    @maps_driver_errors
    async def __aenter__(self) -> PostgresClaim:
        kept = None if self._begun is None else await self._begun.take()
        if kept is not None:
            self._source, self._driver = kept
        else:
            self._source = await self._engine.connect()
        source = self._source
        try:
            if kept is None:
                raw = await source.get_raw_connection()
                self._driver = typing.cast(typing.Any, raw.driver_connection)
                await self._begin_on(self._driver, source)
            driver = self._driver
            if self._before_take is not None:
                self._before_take()
            records = await self._take(driver, source)
            self._rows = [outbox_event(record, self._compressor) for record in records]
        except BaseException:
            await self._close(commit=False)
            raise
        return self

    async def _take(self, driver: typing.Any, source: AsyncConnection) -> list[typing.Any]:
        """Send the statement that takes the batch; on a connection kept from the last
        claim, the first statement sent since it committed, so a notice of the server
        dropping it meanwhile shows up here."""
        try:
            return await driver.fetch(self._statements.take, self._clock())
        except Exception as error:
            if not is_asyncpg_error(error, "InternalClientError"):
                raise
            await source.invalidate()
            raise unavailable(f"{type(self).__name__}.__aenter__", error) from error

    async def _begin_on(self, driver: typing.Any, source: AsyncConnection) -> None:
        """Begin the claim's transaction on the pooled connection's asyncpg connection."""
        try:
            await driver.execute(self._begin)
        except Exception as error:
            if not is_asyncpg_error(error, "InternalClientError"):
                raise
            # Nothing else runs on this connection, which the claim holds alone: asyncpg
            # finding "another operation in progress" means the server sent something
            # unasked, which is the notice that it terminated the connection (a restart,
            # pg_terminate_backend) read before the socket's end.
            await source.invalidate()
            raise unavailable(f"{type(self).__name__}.__aenter__", error) from error

    @maps_driver_errors
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self._close(commit=exc is None)

    async def _mark_and_commit(self, driver: typing.Any, then: str) -> None:
        """Mark the rows and commit, then run `then` (the next claim's `BEGIN`, or
        nothing) in the same round trip."""
        now = self._clock()
        if self._errors:
            # One row per failed id: (id, status, attempts, next try, error).
            failures = [
                (
                    row_id,
                    status_after(tries, self._retry).value,
                    tries,
                    now + self._retry.delay(tries),
                    error[:ERROR_LENGTH],
                )
                for row_id, (tries, error) in self._errors.items()
            ]
            await driver.execute(self._statements.mark_failed, *zip(*failures, strict=True))
        if self._done:
            await driver.execute(self._statements.publish_and_commit(self._done, now, then))
        else:
            await driver.execute(f"COMMIT{then}")

    async def _close(self, *, commit: bool) -> None:
        """Mark and commit (or roll back), then hand the connection back to the pool.

        A connection whose transaction could not be finished, or that the server
        dropped, is discarded, not pooled: the pool does not see errors raised on
        the driver directly, and would hand the dead connection to every later claim.
        """
        source, driver = self._source, self._driver
        self._source = self._driver = None
        if source is None:
            return
        if driver is None:  # the connection failed before a transaction began
            await source.close()
            return
        begun = self._begun
        # Whether this connection is to be kept for the next claim, its transaction begun.
        promised = committed = False
        try:
            if driver.is_in_transaction():
                if commit:
                    promised = begun is not None and begun.promise()
                    await self._mark_and_commit(driver, f"; {self._begin}" if promised else "")
                    committed = True
                else:
                    await driver.execute("ROLLBACK")
        except BaseException:
            if driver.is_in_transaction() and not driver.is_closed():
                with contextlib.suppress(Exception):
                    await driver.execute("ROLLBACK")
            raise
        finally:
            if begun is not None and promised:
                if committed and driver.is_in_transaction() and not driver.is_closed():
                    begun.keep(source, driver)
                    source = None
                else:
                    begun.withdraw()
            if source is not None:
                if driver.is_closed() or driver.is_in_transaction():
                    await source.invalidate()
                await source.close()
