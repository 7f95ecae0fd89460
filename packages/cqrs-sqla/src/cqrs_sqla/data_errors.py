"""`is_data_error`: whether the database refused a value of the statement, not the statement.

A value the database cannot store (a NUL in PostgreSQL text, a lone surrogate,
a string longer than its column, a number out of its column's range) fails
the same way however often it is retried: a service should answer the caller
that the value is wrong, not that the database is down. Drivers say so in
different ways: cqrs-sqla's own `InvalidDataError` (which its adapters raise
in their place), SQLAlchemy's `DataError`, a `DBAPIError` whose SQLSTATE is of
class 22 ("data exception", which is how asyncpg's errors come through), or,
from SQLite's driver, a `UnicodeEncodeError` or `OverflowError` raised while
binding the value.

>>> import sqlalchemy.exc
>>> is_data_error(UnicodeEncodeError("utf-8", "\\ud800", 0, 1, "surrogates not allowed"))
True
>>> is_data_error(sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError()))
False
"""

from __future__ import annotations

import sqlalchemy.exc

from cqrs_sqla.errors import InvalidDataError

__all__ = ("is_data_error",)

#: The SQLSTATE class of data exceptions (SQL standard, PostgreSQL).
_DATA_EXCEPTION_CLASS = "22"


def is_data_error(error: BaseException) -> bool:
    """Whether `error` is the database, or its driver, refusing one of a statement's values
    (as the driver raised it, or as the adapters' `InvalidDataError`)."""
    if isinstance(error, (InvalidDataError, sqlalchemy.exc.DataError)):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(_DATA_EXCEPTION_CLASS)
    # SQLite's driver raises these itself, unwrapped, for a value it cannot bind.
    return isinstance(error, (UnicodeEncodeError, OverflowError))
