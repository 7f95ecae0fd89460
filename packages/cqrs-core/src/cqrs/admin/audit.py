"""The audit log: who did what to which record, when and why.

Every admin action writes one `AuditEntry`, kept with the data it changed (an
SQL store writes it in the same transaction as the change). Actors and reasons
are checked before anything is changed: text a database could not store (NUL
characters, lone surrogates) or of unbounded size is refused.

>>> import datetime
>>> entry = audit_entry(
...     datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
...     AdminAction.SAGA_RESOLVE,
...     "saga/42",
...     actor="alice",
...     reason="refunded by hand",
...     reason_required=True,
... )
>>> entry.action.area, entry.actor
('saga', 'alice')
>>> audit_entry(entry.at, AdminAction.SAGA_RESOLVE, "saga/42", actor="", reason=None)
Traceback (most recent call last):
  ...
cqrs.exceptions.InvalidAdminRequestError: actor must not be empty
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import itertools
import typing

import pydantic

from cqrs.admin.checks import checked_text
from cqrs.admin.paging import check_page_size

__all__ = (
    "AdminAction",
    "AuditEntry",
    "AuditDetails",
    "audit_entry",
    "check_note",
    "newest_first",
    "MAX_ACTOR_LENGTH",
    "MAX_REASON_LENGTH",
)

#: The longest actor name an audit entry keeps.
MAX_ACTOR_LENGTH: typing.Final = 255
#: The longest reason an audit entry keeps.
MAX_REASON_LENGTH: typing.Final = 2000

#: JSON values saying what an action did (the rows a bulk replay took, a saga's statuses...).
AuditDetails = typing.Mapping[str, pydantic.JsonValue]


class AdminAction(str, enum.Enum):
    """What an operator did; the part before the dot is the area it touched."""

    OUTBOX_REPLAY = "outbox.replay"
    OUTBOX_REPLAY_ALL = "outbox.replay_all"
    OUTBOX_DISCARD = "outbox.discard"
    DEAD_LETTER_REPLAY = "dead_letter.replay"
    SAGA_RETRY = "saga.retry"
    SAGA_RESOLVE = "saga.resolve"

    @property
    def area(self) -> str:
        """`outbox`, `dead_letter` or `saga`."""
        return self.value.partition(".")[0]


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One action: when, who, what (`action` on `target`), why, and its outcome.

    `target` names the record acted on (`outbox/42`, `saga/<id>`,
    `dead-letter/<topic>/<partition>/<offset>`, or a filter for a bulk
    action); `details` holds JSON values, such as the rows a bulk replay took.
    """

    at: datetime.datetime
    actor: str
    action: AdminAction
    target: str
    reason: str | None = None
    details: AuditDetails = dataclasses.field(default_factory=dict[str, pydantic.JsonValue])


def audit_entry(
    at: datetime.datetime,
    action: AdminAction,
    target: str,
    *,
    actor: str,
    reason: str | None,
    details: AuditDetails | None = None,
    reason_required: bool = False,
) -> AuditEntry:
    """An `AuditEntry` whose actor and reason passed `check_note`."""
    check_note(actor, reason, reason_required=reason_required)
    return AuditEntry(at, actor, action, target, reason, dict(details or {}))


def check_note(actor: str, reason: str | None, *, reason_required: bool = False) -> None:
    """Raise `InvalidAdminRequestError` unless `actor`, and `reason` when given (or
    `reason_required`), pass `checked_text`: called before an action changes anything."""
    checked_text(actor, "actor", MAX_ACTOR_LENGTH)
    if reason is not None or reason_required:
        checked_text(reason or "", "reason", MAX_REASON_LENGTH)


def newest_first(
    entries: typing.Sequence[AuditEntry], *, target: str | None, limit: int
) -> list[AuditEntry]:
    """The last `limit` of `entries` (kept oldest first), newest first, all or only those
    on `target`: `audit_log` for the stores that keep their entries in a list. Raises
    `InvalidAdminRequestError` for a `limit` out of 1..`MAX_PAGE_SIZE`."""
    check_page_size(limit)
    matching = (entry for entry in reversed(entries) if target in (None, entry.target))
    return list(itertools.islice(matching, limit))
