"""The boundary where database driver errors become cqrs-sqla's own (`cqrs_sqla.errors`).

Each public method of the adapters that talks to the database runs under
`maps_driver_errors`: a dropped or refused connection becomes
`DatabaseUnavailableError`, a constraint violation `IntegrityViolationError`,
a refused value `InvalidDataError` (what `cqrs_sqla.data_errors.is_data_error`
recognises), each with the driver's error chained.
Errors come from SQLAlchemy, or straight from asyncpg where the relay drives
it directly; asyncpg is looked up only once it is imported, so SQLite-only
installations need not have it.

>>> import asyncio
>>> @maps_driver_errors
... async def read() -> None:
...     raise ConnectionRefusedError(111, "Connect call failed")
>>> asyncio.run(read())  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
cqrs_sqla.errors.DatabaseUnavailableError: read: the database could not be reached or ...
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import functools
import sys
import types
import typing

from sqlalchemy import exc as sa_exc
from typing_extensions import ParamSpec, TypeVar

from cqrs_sqla.data_errors import is_data_error
from cqrs_sqla.errors import (
    DatabaseUnavailableError,
    IntegrityViolationError,
    InvalidDataError,
    SqlAdapterError,
)

__all__ = ("maps_driver_errors", "mapped_driver_errors", "unavailable", "is_asyncpg_error")

P = ParamSpec("P")
R = TypeVar("R")

#: Of a driver error's text, only this many characters go into ours (SQLAlchemy's
#: text holds the statement and its parameters, which can be whole payloads).
_CAUSE_LENGTH = 500


@contextlib.contextmanager
def mapped_driver_errors(what: str) -> collections.abc.Generator[None, None, None]:
    """Raise the cqrs-sqla error for a driver error raised in the block, chained;
    `what` names the operation in its message."""
    try:
        yield
    except Exception as error:
        mapped = _mapped(error, what)
        if mapped is None:
            raise
        raise mapped from error


def maps_driver_errors(
    method: typing.Callable[P, typing.Awaitable[R]],
) -> typing.Callable[P, types.CoroutineType[typing.Any, typing.Any, R]]:
    """Decorate a coroutine function so it raises cqrs-sqla's errors, not the driver's."""
    what = method.__qualname__

    @functools.wraps(method)
    async def mapping(*args: P.args, **kwargs: P.kwargs) -> R:
        with mapped_driver_errors(what):
            return await method(*args, **kwargs)

    return mapping


def _mapped(error: Exception, what: str) -> SqlAdapterError | None:
    """The cqrs-sqla error for a driver error, or None for any other error."""
    if isinstance(error, SqlAdapterError):
        return None
    driver = _driver_error(error)
    if isinstance(error, sa_exc.IntegrityError) or is_asyncpg_error(
        driver, "IntegrityConstraintViolationError"
    ):
        return IntegrityViolationError(
            f"{what}: the database refused a write that breaks a constraint of the schema "
            f"({_describe(driver)}); the transaction was not committed"
        )
    if is_data_error(error) or is_asyncpg_error(driver, "DataError"):
        return InvalidDataError(
            f"{what}: the database refused a value ({_describe(driver)}); text must fit its "
            f"column and hold no NUL character, numbers must be in range"
        )
    if _connection_failed(error, driver):
        return unavailable(what, driver)
    return None


def unavailable(what: str, driver: BaseException) -> DatabaseUnavailableError:
    """The error for a connection that could not be made or was dropped (`driver` says
    how); raise it `from` the driver's error."""
    return DatabaseUnavailableError(
        f"{what}: the database could not be reached or dropped the connection "
        f"({_describe(driver)}); check that it runs and that its URL is right, then retry"
    )


def _driver_error(error: Exception) -> BaseException:
    """The driver's own error: under SQLAlchemy's wrapper, and under the adapted error
    by which SQLAlchemy's asyncpg dialect carries asyncpg's."""
    if not isinstance(error, sa_exc.DBAPIError) or error.orig is None:
        return error
    return error.orig.__cause__ or error.orig


def _connection_failed(error: Exception, driver: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    # asyncpg has no class of its own for using a connection found closed.
    if is_asyncpg_error(driver, "InterfaceError") and str(driver).endswith("connection is closed"):
        return True
    # Connecting raises the socket's errors unwrapped, and asyncio's TimeoutError
    # (not an OSError before Python 3.11).
    return isinstance(driver, (OSError, asyncio.TimeoutError)) or is_asyncpg_error(
        driver,
        "PostgresConnectionError",  # class 08: connection exceptions
        "AdminShutdownError",  # the server is shutting down, or terminated this backend
        "CrashShutdownError",
        "CannotConnectNowError",  # the server is starting up
    )


def is_asyncpg_error(error: BaseException, *names: str) -> bool:
    """Whether `error` is one of asyncpg's error classes `names` (asyncpg not imported:
    it cannot be)."""
    asyncpg: typing.Any = sys.modules.get("asyncpg")
    if asyncpg is None:
        return False
    classes = tuple(getattr(asyncpg.exceptions, name) for name in names)
    return isinstance(error, classes)


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= _CAUSE_LENGTH else f"{text[:_CAUSE_LENGTH]}..."
