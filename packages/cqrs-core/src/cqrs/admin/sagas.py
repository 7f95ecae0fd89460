"""The saga storage's admin port: find the sagas that need a person, look into one,
and resolve it by hand.

A saga needs a person when its compensation failed (`compensation_failed`),
when it waits for a reply past its deadline (no worker timed it out), when
recovery gave up on it (`recovery_attempts` used up) or when it has been
running for longer than it ever should. `SagaAdminStore.list_sagas` finds each
kind with a `SagaQuery`; `get_saga` shows one with its context and step log.

Resolving closes an unfinished saga as `resolved`, a final status of its own:
the step log gets a `resolve` entry saying who and why, recovery never picks
the saga again, and no worker can move it on. Retrying runs the saga's engine
and lives in `cqrs.admin.saga_admin.SagaAdmin`, built on this port.

`MemorySagaStorage` implements this port; cqrs-sqla's `SqlAlchemySagaAdmin`
does on PostgreSQL and SQLite; `cqrs.testing.saga_admin` is the contract.

>>> import uuid
>>> saga_id = uuid.UUID(int=7)
>>> moment = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
>>> after_saga(saga_cursor(moment, saga_id)) == (moment, saga_id)
True
>>> saga_target(saga_id)
'saga/00000000-0000-0000-0000-000000000007'
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid

from cqrs.admin.audit import AdminAction, AuditDetails, AuditEntry
from cqrs.admin.checks import checked_text
from cqrs.admin.paging import DEFAULT_PAGE_SIZE, Page
from cqrs.exceptions import InvalidAdminRequestError
from cqrs.saga.models import SagaLogEntry, SagaStatus, SagaWait

__all__ = (
    "SagaAdminStore",
    "SagaQuery",
    "SagaSummary",
    "SagaDetail",
    "MAX_NAME_LENGTH",
    "saga_cursor",
    "after_saga",
    "saga_target",
    "resolution_details",
)

#: The longest saga name a filter may hold (the saga table's column width).
MAX_NAME_LENGTH: typing.Final = 255


@dataclasses.dataclass(frozen=True)
class SagaQuery:
    """Which sagas to list; every condition given must hold.

    - `status`, `name`: equal to these;
    - `overdue`: waiting for a reply whose deadline has passed;
    - `min_recovery_attempts`: recovered at least this many times (give the
      recovery worker's `max_recovery_attempts` to find those it gave up on);
    - `running_longer_than`: created longer ago than this.

    The last three match unfinished sagas only.
    """

    status: SagaStatus | None = None
    name: str | None = None
    overdue: bool = False
    min_recovery_attempts: int | None = None
    running_longer_than: datetime.timedelta | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            checked_text(self.name, "name", MAX_NAME_LENGTH)
        if self.min_recovery_attempts is not None and not 0 <= self.min_recovery_attempts < 2**31:
            raise InvalidAdminRequestError(
                f"min_recovery_attempts must be from 0 to 2**31 - 1, "
                f"not {self.min_recovery_attempts}"
            )
        if self.running_longer_than is not None and not (
            datetime.timedelta(0) <= self.running_longer_than <= datetime.timedelta(days=36500)
        ):
            raise InvalidAdminRequestError(
                f"running_longer_than must be from 0 to 100 years, not {self.running_longer_than}"
            )

    @property
    def unfinished_only(self) -> bool:
        """Whether a condition that only unfinished sagas meet is given."""
        return (
            self.overdue
            or self.min_recovery_attempts is not None
            or self.running_longer_than is not None
        )

    def matches(self, saga: SagaSummary, now: datetime.datetime) -> bool:
        """Whether `saga` meets every condition at time `now` (a store that can
        filter in its database does so there instead)."""
        waiting = saga.waiting
        return not (
            (self.status is not None and saga.status is not self.status)
            or (self.name is not None and saga.name != self.name)
            or (self.unfinished_only and saga.status.is_final)
            or (self.overdue and (waiting is None or waiting.deadline > now))
            or (
                self.min_recovery_attempts is not None
                and saga.recovery_attempts < self.min_recovery_attempts
            )
            or (
                self.running_longer_than is not None
                and saga.created_at > now - self.running_longer_than
            )
        )


@dataclasses.dataclass(frozen=True)
class SagaSummary:
    """One saga as a listing shows it: its state without the context."""

    saga_id: uuid.UUID
    name: str
    status: SagaStatus
    version: int
    recovery_attempts: int
    error: str | None
    waiting: SagaWait | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class SagaDetail(SagaSummary):
    """One saga in full: its state, its last context and its step log in write order."""

    context: typing.Mapping[str, typing.Any] = dataclasses.field(
        default_factory=dict[str, typing.Any]
    )
    log: typing.Sequence[SagaLogEntry] = ()

    @classmethod
    def of(
        cls,
        summary: SagaSummary,
        context: typing.Mapping[str, typing.Any],
        log: typing.Sequence[SagaLogEntry],
    ) -> SagaDetail:
        """`summary` with its context and log."""
        fields = {
            field.name: getattr(summary, field.name) for field in dataclasses.fields(SagaSummary)
        }
        return cls(**fields, context=context, log=log)


class SagaAdminStore(typing.Protocol):
    """An operator's view of one saga storage. Methods taking a saga id raise
    `SagaNotFoundError` for an id the storage does not hold."""

    async def list_sagas(
        self,
        query: SagaQuery | None = None,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[SagaSummary]:
        """The sagas `query` matches (all when `None`), oldest (first created) first; an
        empty page when none.

        Give a page's `next_cursor` as `cursor` for the page after it. Raises
        `InvalidAdminRequestError` for a cursor it did not hand out or a limit
        out of 1..`MAX_PAGE_SIZE`.
        """
        ...

    async def get_saga(self, saga_id: uuid.UUID) -> SagaDetail:
        """The saga with its context and step log."""
        ...

    async def resolve(self, saga_id: uuid.UUID, *, actor: str, reason: str) -> None:
        """Close an unfinished saga as `resolved`, in one write with its audit entry.

        The write sets the status, bumps the version (so a worker holding an
        older one can record nothing more), clears what the saga waits for,
        appends a `resolve` entry to the step log (`step_name` the saga's name,
        `details` "actor: reason") and records the audit entry. Raises
        `InvalidAdminRequestError` for an empty actor or reason,
        `SagaNotResolvableError` for a finished saga and
        `SagaConcurrencyError` while a worker holds a live claim on it (or
        moves it on meanwhile); each writes nothing.
        """
        ...

    async def record_audit(
        self,
        action: AdminAction,
        target: str,
        *,
        actor: str,
        reason: str | None = None,
        details: AuditDetails | None = None,
    ) -> AuditEntry:
        """Add an entry to the saga audit log, stamped now, and return it: for
        actions done through the engine (a retry), which writes the saga itself.

        Raises `InvalidAdminRequestError` for an empty actor or bad reason.
        """
        ...

    async def audit_log(
        self, *, target: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[AuditEntry]:
        """The latest saga actions, newest first, all or only those on `target`
        (`saga_target(saga_id)`); empty when none."""
        ...


_CURSOR_SEPARATOR = "~"


def saga_cursor(created_at: datetime.datetime, saga_id: uuid.UUID) -> str:
    """The cursor that pages on after the saga created at `created_at` with id `saga_id`."""
    return f"{created_at.isoformat()}{_CURSOR_SEPARATOR}{saga_id}"


def after_saga(cursor: str | None) -> tuple[datetime.datetime, uuid.UUID] | None:
    """The position after which the page of `cursor` starts (`None`: from the first saga).

    Raises `InvalidAdminRequestError` for a cursor `saga_cursor` did not make.
    """
    if cursor is None:
        return None
    created_at, _, saga_id = cursor.partition(_CURSOR_SEPARATOR)
    try:
        position = datetime.datetime.fromisoformat(created_at), uuid.UUID(saga_id)
    except ValueError:
        position = None
    if position is None or position[0].tzinfo is None or len(cursor) > 100:
        raise InvalidAdminRequestError(f"cursor {cursor!r} is not one a saga page handed out")
    return position


def saga_target(saga_id: uuid.UUID) -> str:
    """The audit target of one saga."""
    return f"saga/{saga_id}"


def resolution_details(actor: str, reason: str) -> str:
    """The `details` of the step log's `resolve` entry."""
    return f"{actor}: {reason}"
