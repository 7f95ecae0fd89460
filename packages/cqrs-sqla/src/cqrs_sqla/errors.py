"""Every error cqrs-sqla raises, in one tree; each is a `cqrs.exceptions.CQRSError`.

```
SqlAdapterError(CQRSError)                         base of the errors of cqrs-sqla
├── UnsupportedDatabaseError(ConfigurationError)   a database or driver the adapter cannot use
├── DatabaseUnavailableError(ConnectionError)      the database could not be reached, or dropped
├── IntegrityViolationError                        a write broke a constraint of the schema
└── InvalidDataError(ValueError)                   the database refused a value
```

All of them are exported by `cqrs_sqla` too. The adapters raise them in place
of their database driver's errors, with the driver's error chained as
`__cause__` (see `cqrs_sqla.driver_errors`): a caller handles
`DatabaseUnavailableError` (also a `ConnectionError`) without knowing whether
SQLAlchemy, asyncpg or sqlite3 saw the connection fail. Other driver errors
(a lock timeout, a serialization failure) pass through unchanged. A test
(`cqrs.testing.error_tree`) holds this tree to the classes.
"""

from __future__ import annotations

from cqrs.exceptions import ConfigurationError, CQRSError

__all__ = (
    "SqlAdapterError",
    "UnsupportedDatabaseError",
    "DatabaseUnavailableError",
    "IntegrityViolationError",
    "InvalidDataError",
)


class SqlAdapterError(CQRSError):
    """Base class of the errors of cqrs-sqla."""


class UnsupportedDatabaseError(SqlAdapterError, ConfigurationError):
    """A database, or a driver, that the adapter cannot work with; raised when it is
    built. The message names what to use instead."""


class DatabaseUnavailableError(SqlAdapterError, ConnectionError):
    """The database refused the connection, did not answer in time, or dropped the
    connection. Check that it runs and that its URL is right; the call can be retried
    (a failed call commits nothing of its own, though a commit whose answer was lost
    may have gone through)."""


class IntegrityViolationError(SqlAdapterError):
    """The database refused a write that breaks a constraint of the schema, such as a
    second outbox row with the same event id. The transaction was not committed."""


class InvalidDataError(SqlAdapterError, ValueError):
    """The database refused a value: text longer than its column, a NUL character in
    PostgreSQL text, a number out of range. The transaction was not committed."""
