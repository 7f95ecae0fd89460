"""SQL statements shared by the adapters.

SQLAlchemy's PostgreSQL and SQLite `INSERT ... ON CONFLICT` constructs have no
cache key, so SQLAlchemy compiles them again on every execution: an inbox row,
a saga row and a read-model row per message, visible in the services'
profiles. The statements here are therefore text with typed bind parameters,
rendered once per database, table, set of columns and kind, which SQLAlchemy's
statement cache keeps. A table whose SQL would carry a bind the caller does not
give (a column's Python-side default) gets the construct instead.
"""

from __future__ import annotations

import functools
import re
import typing

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import BindTyping

from cqrs_sqla.databases import require_supported

__all__ = ("insert_or_replace", "insert_unless_present")

# `sa.text` reads `:name` back as a bind only when the name is a word.
_BIND_NAME: typing.Final = re.compile(r"\w+")


def _text_dialect(dialect: sa.Dialect) -> sa.Dialect:
    # `:name` binds without casts (`:id::UUID` would not read back as a bind): the
    # form `sa.text` takes. Each connection's own dialect renders the text its way
    # (placeholders, casts from the binds' types) when it runs it.
    dialect.bind_typing = BindTyping.NONE
    return dialect


_TEXT_DIALECTS: typing.Final = {
    "postgresql": _text_dialect(postgresql.dialect(paramstyle="named")),
    "sqlite": _text_dialect(sqlite.dialect(paramstyle="named")),
}


def insert_unless_present(
    dialect: sa.Dialect, table: sa.Table, values: typing.Mapping[str, typing.Any], user: str
) -> sa.TextClause | sa.Insert:
    """`INSERT ... ON CONFLICT (primary key) DO NOTHING`: a row count of 0 says the row
    existed. Unlike catching an IntegrityError, it leaves the transaction usable.

    `user` names the component in the `UnsupportedDatabaseError` for a database it
    cannot tell that on (see `cqrs_sqla.databases`).
    """
    require_supported(dialect, user)
    return _cached(dialect.name, table, values, replace=False)


def insert_or_replace(
    dialect: sa.Dialect, table: sa.Table, values: typing.Mapping[str, typing.Any], user: str
) -> sa.TextClause | sa.Insert:
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
    return _cached(dialect.name, table, values, replace=True)


def _cached(
    database: str, table: sa.Table, values: typing.Mapping[str, typing.Any], *, replace: bool
) -> sa.TextClause | sa.Insert:
    text = _as_text(database, table, tuple(values), replace=replace)
    if text is None:
        return _on_conflict(database, table, values, replace=replace)
    return text.bindparams(**values)


def _on_conflict(
    database: str, table: sa.Table, values: typing.Mapping[str, typing.Any], *, replace: bool
) -> sa.Insert:
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    key = list(table.primary_key.columns)
    if not replace:
        return statement.on_conflict_do_nothing(index_elements=key)
    keys = {column.name for column in key}
    replaced = {name: statement.excluded[name] for name in values if name not in keys}
    return statement.on_conflict_do_update(index_elements=key, set_=replaced)


@functools.lru_cache(maxsize=256)
def _as_text(
    database: str, table: sa.Table, columns: tuple[str, ...], *, replace: bool
) -> sa.TextClause | None:
    """The statement as text with a typed bind per column, or `None` when its SQL needs
    binds other than `columns` or names `sa.text` would not read back."""
    if not all(name in table.c and _BIND_NAME.fullmatch(name) for name in columns):
        return None
    binds = {name: sa.bindparam(name, type_=table.c[name].type) for name in columns}
    statement = _on_conflict(database, table, binds, replace=replace)
    compiled = statement.compile(dialect=_TEXT_DIALECTS[database])
    if set(compiled.binds) != set(columns):
        return None
    return sa.text(str(compiled)).bindparams(*binds.values())
