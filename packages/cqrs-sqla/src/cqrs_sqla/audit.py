"""The admin audit log as a table: each entry is written in the transaction of the change
it records, and read back newest first.

>>> import datetime
>>> from cqrs.admin.audit import AdminAction, AuditEntry
>>> entry = AuditEntry(datetime.datetime.now(datetime.timezone.utc), "alice",
...                    AdminAction.OUTBOX_REPLAY, "outbox/7", "broker fixed", {"rows": [7]})
>>> audit_entry_of({"id": 1, **audit_values(entry)}) == entry
True
"""

from __future__ import annotations

import datetime
import typing

import pydantic
import sqlalchemy as sa

from cqrs.admin.audit import AdminAction, AuditEntry
from cqrs.admin.paging import check_page_size

__all__ = ("audit_values", "audit_entry_of", "audit_query")


def audit_values(entry: AuditEntry) -> dict[str, object]:
    """The column values of the audit row that keeps `entry`."""
    return {
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action.value,
        "target": entry.target,
        "reason": entry.reason,
        "details": dict(entry.details),
    }


def audit_entry_of(row: typing.Mapping[typing.Any, typing.Any]) -> AuditEntry:
    """The `AuditEntry` an audit row keeps; inverse of `audit_values`."""
    return AuditEntry(
        typing.cast(datetime.datetime, row["at"]),
        typing.cast(str, row["actor"]),
        AdminAction(row["action"]),
        typing.cast(str, row["target"]),
        typing.cast("str | None", row["reason"]),
        typing.cast(dict[str, pydantic.JsonValue], row["details"]),
    )


def audit_query(
    table: sa.Table, area: str, target: str | None, limit: int
) -> sa.Select[typing.Any]:
    """The latest `limit` entries of `area` (`AdminAction.area`), newest first, all or
    only those on `target`. Raises `InvalidAdminRequestError` for a bad `limit`."""
    actions = [action.value for action in AdminAction if action.area == area]
    query = (
        sa.select(table)
        .where(table.c.action.in_(actions))
        .order_by(table.c.id.desc())
        .limit(check_page_size(limit))
    )
    return query if target is None else query.where(table.c.target == target)
