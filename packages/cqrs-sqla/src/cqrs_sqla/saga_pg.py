"""The saga storage's hot statements on PostgreSQL: one each, on the asyncpg connection.

A saga's life is mostly `create_saga` and one `record_step` per step, and a
worker's pass over a stored saga `claim_and_load` (the claim, the saga's row
and its step log in one statement) and `release`. On PostgreSQL each is a single statement
run in autocommit (its own transaction, one round trip), written once per
schema and sent to the asyncpg connection under the engine's pooled one, as
the relay's claim is: no statement compiled or cache key built per call,
which cost several times the database's own work.

`record_step` is one statement of data-modifying CTEs: the fenced UPDATE of
the saga, then, from the row it moved (none when the write is refused), the
step log entry and the outbox rows, and the relays' wake-up call. It commits
or fails as a whole, as the transaction it replaces did.

`SqlAlchemySagaStorage` runs them as
`await on_driver(engine, lambda driver: statements.create(driver, ...))`.

>>> from sqlalchemy.dialects import postgresql
>>> statements = saga_statements(postgresql.dialect(), Schema())
>>> "ON CONFLICT (id) DO NOTHING" in statements.create_sql[0], statements.outbox_channel
(True, 'outbox_new')
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import functools
import json
import typing

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from cqrs.saga.models import SagaStatus
from cqrs_sqla.driver_errors import is_asyncpg_error
from cqrs_sqla.greenlets import spawn
from cqrs_sqla.notify import channel_of
from cqrs_sqla.saga_rows import FINAL_STATUSES
from cqrs_sqla.schema import Schema

__all__ = ("SagaStatements", "log_arrays", "on_driver", "saga_statements")

#: The outbox columns a staged message fills, in the order `record_step` passes them.
_OUTBOX_COLUMNS: typing.Final = (
    "event_id",
    "event_name",
    "topic",
    "partition_key",
    "payload",
    "content_encoding",
    "traceparent",
    "tracestate",
    "created_at",
    "next_attempt_at",
)


T = typing.TypeVar("T")


async def on_driver(
    engine: AsyncEngine,
    statement: collections.abc.Callable[[typing.Any], collections.abc.Awaitable[T]],
) -> T:
    """Await `statement(driver)` on the asyncpg connection of a pooled connection of
    `engine`; statements that each commit on their own (asyncpg runs a statement
    outside a transaction in one).

    The pooled connection is taken without an SQLAlchemy `Connection` around it,
    and taken, used and given back in one greenlet: each part on its own cost
    about as much again as the statement. The greenlet is a reused one
    (`cqrs_sqla.greenlets.spawn`): a new one per statement cost the kernel an
    mmap and munmap each. One that the server dropped, or that
    was left inside a transaction, is discarded, not pooled again: the pool does
    not see errors raised on the driver directly.
    """

    def run() -> T:
        pooled = engine.sync_engine.raw_connection()
        driver = typing.cast(typing.Any, pooled.driver_connection)
        dead = False
        try:
            return await_only(statement(driver))
        except Exception as error:
            # "Another operation is in progress" on a connection nothing else uses is
            # the server's notice that it ended the connection, read before its end:
            # a dropped connection (which `maps_driver_errors` reports as such).
            if not is_asyncpg_error(error, "InternalClientError"):
                raise
            dead = True
            raise ConnectionResetError(f"the server ended the connection: {error}") from error
        finally:
            if dead or driver.is_closed() or driver.is_in_transaction():
                pooled.invalidate()
            pooled.close()

    return await spawn(run)


def _json(value: typing.Mapping[str, typing.Any]) -> str:
    return json.dumps(value)


@dataclasses.dataclass(frozen=True)
class SagaStatements:
    """The hot statements of one schema's saga tables: a saga's life, and a worker's pass."""

    # Without and with the trace context: a database that never records one may lack
    # the column (it came in a later version), so it is only named when written.
    create_sql: tuple[str, str]
    # By (stages outbox rows, writes the trace context). Staging adds one array per
    # outbox column and the relays' wake-up call.
    record_sql: typing.Mapping[tuple[bool, bool], str]
    outbox_channel: str
    load_sql: str
    history_sql: str
    # The claim, the saga's row and its step log (as arrays) in one trip.
    claim_and_load_sql: str
    # Each returns (whether it changed the row, whether the saga exists) in one trip.
    claim_sql: str
    release_sql: str
    move_sql: str
    # Whether `record` and `move` also send the saga's id on a changes channel.
    notifies_changes: bool = False

    async def load(self, driver: typing.Any, saga_id: object) -> dict[str, typing.Any] | None:
        """The saga's row, or None for an unknown saga. The context arrives decoded: the
        engine's dialect gives its connections a JSON codec."""
        record = await driver.fetchrow(self.load_sql, saga_id)
        return None if record is None else dict(record)

    async def history(self, driver: typing.Any, saga_id: object) -> list[typing.Any]:
        """The saga's step log rows, in write order."""
        return typing.cast("list[typing.Any]", await driver.fetch(self.history_sql, saga_id))

    async def claim_and_load(
        self,
        driver: typing.Any,
        saga_id: object,
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> tuple[dict[str, typing.Any] | None, bool]:
        """Take or renew the claim unless another holds it, and read the saga as the claim
        left it: (its row with the step log as arrays `log_*`, or None when another holds
        it; whether the saga exists)."""
        record = await driver.fetchrow(self.claim_and_load_sql, saga_id, owner, now, lease_until)
        row = dict(record)
        return (row if row["id"] is not None else None), bool(row["found"])

    async def claim(
        self,
        driver: typing.Any,
        saga_id: object,
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> tuple[bool, bool]:
        """Take or renew the claim unless another holds it: (claimed, the saga exists)."""
        record = await driver.fetchrow(self.claim_sql, saga_id, owner, now, lease_until)
        return bool(record[0]), bool(record[1])

    async def move(
        self,
        driver: typing.Any,
        saga_id: object,
        status: SagaStatus,
        error: str | None,
        now: datetime.datetime,
    ) -> bool:
        """Set the status (and the error, when given; a final status releases the claim);
        False, writing nothing, for an unknown or resolved saga."""
        arguments = (saga_id, status.value, error, status.is_final, now)
        if self.notifies_changes:
            return bool(await driver.fetch(self.move_sql, *arguments))
        done = await driver.execute(self.move_sql, *arguments)
        return typing.cast(str, done) == "UPDATE 1"

    async def release(self, driver: typing.Any, saga_id: object, owner: str) -> tuple[bool, bool]:
        """Drop `owner`'s claim: (released, the saga exists)."""
        record = await driver.fetchrow(self.release_sql, saga_id, owner)
        return bool(record[0]), bool(record[1])

    async def create(
        self,
        driver: typing.Any,
        saga_id: object,
        name: str,
        context: typing.Mapping[str, typing.Any],
        owner: str | None,
        lease_until: datetime.datetime | None,
        now: datetime.datetime,
        trace_context: str | None = None,
    ) -> bool:
        """Insert the saga at version 1, `pending`; False when its id exists already."""
        arguments = [saga_id, name, _json(context), owner, lease_until, now]
        if trace_context is not None:
            arguments.append(trace_context)
        status = await driver.execute(self.create_sql[trace_context is not None], *arguments)
        return typing.cast(str, status) == "INSERT 0 1"

    async def record(
        self,
        driver: typing.Any,
        saga_id: object,
        current_version: int,
        *,
        context: typing.Mapping[str, typing.Any],
        now: datetime.datetime,
        wait: typing.Mapping[str, object],
        status: SagaStatus | None,
        error: str | None,
        entry: typing.Mapping[str, object],
        rows: typing.Sequence[typing.Mapping[str, typing.Any]],
        trace_context: str | None = None,
    ) -> bool:
        """Move the saga on from `current_version` with its log entry and outbox rows;
        False, writing nothing, when the saga is not at that version or is finished."""
        arguments: list[object] = [
            saga_id,
            current_version,
            _json(context),
            now,
            wait["waiting_step"],
            wait["waiting_action"],
            wait["waiting_deadline"],
            wait["waiting_attempt"],
            None if status is None else status.value,
            error,
            status is not None and status.is_final,
            entry["step_name"],
            entry["action"],
            entry["status"],
            entry["details"],
        ]
        if rows:
            arguments.extend([row[column] for row in rows] for column in _OUTBOX_COLUMNS)
            arguments.append(self.outbox_channel)
        if trace_context is not None:
            arguments.append(trace_context)
        sql = self.record_sql[bool(rows), trace_context is not None]
        return bool(await driver.fetch(sql, *arguments))


@functools.lru_cache(maxsize=64)
def saga_statements(
    dialect: sa.Dialect, schema: Schema, changes_channel: str | None = None
) -> SagaStatements:
    """The statements for `schema`'s tables, written once per schema; with
    `changes_channel`, `record` and `move` also send `NOTIFY changes_channel` with the
    saga's id when they write (in their statement: sent on commit, and only then)."""
    notify = (
        ""
        if changes_channel is None
        else ", pg_notify('{}', id::text)".format(changes_channel.replace("'", "''"))
    )
    quote = dialect.identifier_preparer
    saga, log = quote.format_table(schema.saga), quote.format_table(schema.saga_log)
    outbox = schema.outbox
    finished = ", ".join(f"'{status}'" for status in FINAL_STATUSES)
    create = f"""
        INSERT INTO {saga} (id, name, status, context, version, recovery_attempts, owner,
                            lease_until, created_at, updated_at{{trace_column}})
        VALUES ($1, $2, '{SagaStatus.PENDING.value}', $3::json, 1, 0, $4, $5, $6, $6{{trace}})
        ON CONFLICT (id) DO NOTHING
    """
    staged_arrays = len(_OUTBOX_COLUMNS) + 1  # the arrays and the channel

    def record(staging: bool, traced: bool) -> str:
        # $9 the new status (NULL: unchanged), $10 the error (NULL: unchanged), $11
        # whether the status is final, which releases the claim; the trace context last.
        trace = f", trace_context = ${16 + staged_arrays * staging}" if traced else ""
        moved = f"""
            moved AS (
                UPDATE {saga} SET
                    context = $3::json, version = version + 1, updated_at = $4,
                    waiting_step = $5, waiting_action = $6, waiting_deadline = $7,
                    waiting_attempt = $8,
                    status = coalesce($9, status), error = coalesce($10, error),
                    owner = CASE WHEN $11 THEN NULL ELSE owner END,
                    lease_until = CASE WHEN $11 THEN NULL ELSE lease_until END{trace}
                WHERE id = $1 AND version = $2 AND status NOT IN ({finished})
                RETURNING id
            ),
            logged AS (
                INSERT INTO {log} (saga_id, step_name, action, status, details, created_at)
                SELECT id, $12, $13, $14, $15, $4 FROM moved
            )"""
        if not staging:
            return f"WITH {moved} SELECT id{notify} FROM moved"
        arrays = ", ".join(
            f"${number}::{outbox.c[column].type.compile(dialect)}[]"
            for number, column in enumerate(_OUTBOX_COLUMNS, start=16)
        )
        staged = f"""
            staged AS (
                INSERT INTO {quote.format_table(outbox)} ({", ".join(_OUTBOX_COLUMNS)})
                SELECT message.* FROM moved, unnest({arrays}) AS message
            )"""
        return (
            f"WITH {moved}, {staged} SELECT pg_notify(${15 + staged_arrays}, ''){notify} FROM moved"
        )

    move = f"""
            UPDATE {saga} SET status = $2, error = coalesce($3, error), updated_at = $5,
                owner = CASE WHEN $4 THEN NULL ELSE owner END,
                lease_until = CASE WHEN $4 THEN NULL ELSE lease_until END
            WHERE id = $1 AND status != '{SagaStatus.RESOLVED.value}'
        """
    return SagaStatements(
        create_sql=(
            create.format(trace_column="", trace=""),
            create.format(trace_column=", trace_context", trace=", $7"),
        ),
        record_sql={
            (staging, traced): record(staging, traced)
            for staging in (False, True)
            for traced in (False, True)
        },
        outbox_channel=channel_of(outbox),
        load_sql=f"""
            SELECT id, name, status, context, version, recovery_attempts, error,
                   waiting_step, waiting_action, waiting_deadline, waiting_attempt,
                   trace_context
            FROM {saga} WHERE id = $1
        """,
        history_sql=f"""
            SELECT step_name, action, status, created_at, details
            FROM {log} WHERE saga_id = $1 ORDER BY id
        """,
        claim_and_load_sql=f"""
            WITH claimed AS (
                UPDATE {saga} SET owner = $2, lease_until = $4
                WHERE id = $1 AND (owner IS NULL OR owner = $2 OR lease_until IS NULL
                                   OR lease_until <= $3)
                RETURNING id, name, status, context, version, recovery_attempts, error,
                          waiting_step, waiting_action, waiting_deadline, waiting_attempt,
                          trace_context
            )
            SELECT claimed.*, EXISTS (SELECT 1 FROM {saga} WHERE id = $1) AS found,
                   log.log_step, log.log_action, log.log_status, log.log_at, log.log_details
            FROM (SELECT 1) AS one
            LEFT JOIN claimed ON true
            {log_arrays(log, "claimed.id")}
        """,
        claim_sql=_changed_and_found(
            saga,
            "SET owner = $2, lease_until = $4 WHERE id = $1 AND (owner IS NULL OR owner = $2 "
            "OR lease_until IS NULL OR lease_until <= $3)",
        ),
        move_sql=move
        if not notify
        else f"WITH moved AS ({move} RETURNING id) SELECT id{notify} FROM moved",
        notifies_changes=bool(notify),
        release_sql=_changed_and_found(
            saga, "SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2"
        ),
    )


def log_arrays(log: str, saga_id: str) -> str:
    """`LEFT JOIN LATERAL` of the step log (table `log`, quoted) of the saga whose id is
    the SQL expression `saga_id`, as arrays in write order: `log_step`, `log_action`,
    `log_status`, `log_at`, `log_details` (read by `saga_rows.log_entries_of`).

    >>> sql = log_arrays('"saga_log"', "saga.id")
    >>> sql.startswith("LEFT JOIN LATERAL"), "WHERE saga_id = saga.id" in sql
    (True, True)
    """
    return f"""LEFT JOIN LATERAL (
                SELECT array_agg(step_name ORDER BY id) AS log_step,
                       array_agg(action ORDER BY id) AS log_action,
                       array_agg(status ORDER BY id) AS log_status,
                       array_agg(created_at ORDER BY id) AS log_at,
                       array_agg(details ORDER BY id) AS log_details
                FROM {log} WHERE saga_id = {saga_id}
            ) AS log ON true"""


def _changed_and_found(saga: str, update: str) -> str:
    """`UPDATE saga <update>` that also tells whether saga `$1` exists, in one statement."""
    return (
        f"WITH changed AS (UPDATE {saga} {update} RETURNING 1) "
        f"SELECT EXISTS (SELECT 1 FROM changed), EXISTS (SELECT 1 FROM {saga} WHERE id = $1)"
    )
