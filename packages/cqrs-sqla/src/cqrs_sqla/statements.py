"""SQL statements shared by the adapters."""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cqrs_sqla.databases import require_supported

__all__ = ("insert_unless_present",)


def insert_unless_present(
    dialect: sa.Dialect, table: sa.Table, values: typing.Mapping[str, typing.Any], user: str
) -> sa.Insert:
    """`INSERT ... ON CONFLICT (primary key) DO NOTHING`: a row count of 0 says the row
    existed. Unlike catching an IntegrityError, it leaves the transaction usable.

    `user` names the component in the `UnsupportedDatabaseError` for a database it
    cannot tell that on (see `cqrs_sqla.databases`).
    """
    require_supported(dialect, user)
    key = list(table.primary_key.columns)
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return insert(table).values(values).on_conflict_do_nothing(index_elements=key)
