"""SQL statements shared by the adapters."""

from __future__ import annotations

import typing

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cqrs_sqla.databases import require_supported

__all__ = ("insert_or_replace", "insert_unless_present")


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


def insert_or_replace(
    dialect: sa.Dialect, table: sa.Table, values: typing.Mapping[str, typing.Any], user: str
) -> sa.Insert:
    """`INSERT ... ON CONFLICT (primary key) DO UPDATE`: the row `values` describe (the key
    columns among them) is inserted, or replaces the stored one, in one statement
    instead of an UPDATE and, when it found nothing, an INSERT.

    `user` names the component in the `UnsupportedDatabaseError` for a database it
    cannot do that on (see `cqrs_sqla.databases`).

    >>> table = sa.Table("totals", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
    ...                  sa.Column("total", sa.Integer))
    >>> statement = insert_or_replace(sqlite.dialect(), table, {"id": 1, "total": 5}, "demo")
    >>> str(statement.compile(dialect=sqlite.dialect())).split(" ON CONFLICT ")[1]
    '(id) DO UPDATE SET total = excluded.total'
    """
    require_supported(dialect, user)
    key = list(table.primary_key.columns)
    keys = {column.name for column in key}
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    replaced = {name: statement.excluded[name] for name in values if name not in keys}
    return statement.on_conflict_do_update(index_elements=key, set_=replaced)
