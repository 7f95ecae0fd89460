"""SQL statements shared by the adapters."""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cqrs.exceptions import ConfigurationError

__all__ = ("insert_unless_present",)


def insert_unless_present(
    dialect: str, table: sa.Table, values: typing.Mapping[str, typing.Any], user: str
) -> sa.Insert:
    """`INSERT ... ON CONFLICT (primary key) DO NOTHING`: a row count of 0 says the row
    existed. Unlike catching an IntegrityError, it leaves the transaction usable.

    `user` names the component in the error for an unsupported database.
    """
    key = list(table.primary_key.columns)
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=key)
    raise ConfigurationError(
        f"{user} supports PostgreSQL and SQLite, not {dialect!r}: it needs "
        f"INSERT ... ON CONFLICT DO NOTHING."
    )
