"""Database errors become the service's own, in one place: its unit of work.

A service's unit of work runs its block inside `storage_errors(...)`, naming
the service's application errors; above it nobody sees a driver's error, and
the HTTP layer maps those application errors to statuses (503, 422).

- A value the database refuses (a NUL in PostgreSQL text, a number out of
  range) raises `rejected`: retrying cannot help, the client must change it.
- A database that cannot be reached, times out, or fails otherwise raises
  `unavailable`: a retry may succeed once the database is back.
- A bug's error (a statement the database cannot run, such as one on a
  missing table, or a broken constraint) passes through: a 500, logged.

The driver's message quotes statements and values: it stays chained, for the
log, and out of the message a client reads.

>>> class Unavailable(ConnectionError): ...
>>> class Rejected(ValueError): ...
>>> with storage_errors("orders", unavailable=Unavailable, rejected=Rejected):
...     raise ConnectionRefusedError("connect call failed")
Traceback (most recent call last):
  ...
servicekit.storage.Unavailable: the orders database did not answer (ConnectionRefusedError); \
check ORDERS_DATABASE_URL and that the database runs, then try again
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib

import sqlalchemy.exc

from cqrs_sqla.data_errors import is_data_error
from cqrs_sqla.errors import DatabaseUnavailableError, InvalidDataError

__all__ = ("storage_errors",)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.SQLAlchemyError,
    DatabaseUnavailableError,
    OSError,  # asyncpg's connection errors come through unwrapped
    asyncio.TimeoutError,
)

_BUGS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.IntegrityError,
)


@contextlib.contextmanager
def storage_errors(
    service: str, *, unavailable: type[Exception], rejected: type[Exception]
) -> collections.abc.Generator[None, None, None]:
    """Raise `rejected` for a value the database refuses and `unavailable` for a database
    that fails otherwise, each chained to the driver's error; others pass through."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, InvalidDataError) or is_data_error(exc):
            raise rejected(
                f"the {service} database refused a value of the request (a character or a "
                f"number it cannot store); change the value"
            ) from exc
        if isinstance(exc, _UNAVAILABLE) and not isinstance(exc, _BUGS):
            raise unavailable(
                f"the {service} database did not answer ({type(exc).__name__}); check "
                f"{service.upper()}_DATABASE_URL and that the database runs, then try again"
            ) from exc
        raise
