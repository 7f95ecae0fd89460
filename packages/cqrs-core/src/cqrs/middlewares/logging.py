"""`LoggingMiddleware`: logs each message handled, its outcome and duration.

A failure is a bug (ERROR, with its traceback) unless its type is one of
`expected`: the errors a handler raises for a client's mistake (an unknown
id, a refused order), logged at `expected_level` (INFO) on one line, without
a traceback, so that the log of a busy service is not flooded with the
clients' mistakes.

>>> import asyncio
>>> middleware = LoggingMiddleware(expected=(LookupError,))  # INFO, no traceback
>>> async def handle(message: object) -> str:
...     raise LookupError("no sku 'x'")
>>> asyncio.run(middleware("a message", handle))
Traceback (most recent call last):
    ...
LookupError: no sku 'x'
"""

from __future__ import annotations

import logging
import time
import typing

from cqrs.middlewares.base import HandleType

__all__ = ("LoggingMiddleware",)


class LoggingMiddleware:
    """Logs at `level` before and after each message; failures at ERROR with their
    traceback, those of the `expected` types at `expected_level` without one.

    `tracebacks=False` leaves the traceback of an unexpected failure out of its
    ERROR line too, for callers whose entry point logs it already (an HTTP
    layer answering 500). The error always propagates.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        level: int = logging.DEBUG,
        *,
        expected: tuple[type[BaseException], ...] = (),
        expected_level: int = logging.INFO,
        tracebacks: bool = True,
    ) -> None:
        self._logger = logger or logging.getLogger("cqrs.mediator")
        self._level = level
        self._expected = expected
        self._expected_level = expected_level
        self._tracebacks = tracebacks

    async def __call__(self, request: typing.Any, handle: HandleType) -> typing.Any:
        name = type(request).__name__
        self._logger.log(self._level, "handling %s", name)
        started = time.perf_counter()
        try:
            result = await handle(request)
        except Exception as error:
            elapsed_ms = (time.perf_counter() - started) * 1000
            if isinstance(error, self._expected):
                self._logger.log(
                    self._expected_level,
                    "%s refused in %.2f ms: %s: %s",
                    name,
                    elapsed_ms,
                    type(error).__name__,
                    error,
                )
            else:
                self._logger.error(
                    "%s failed in %.2f ms: %s: %s",
                    name,
                    elapsed_ms,
                    type(error).__name__,
                    error,
                    exc_info=self._tracebacks,
                )
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._logger.log(self._level, "handled %s in %.2f ms", name, elapsed_ms)
        return result
