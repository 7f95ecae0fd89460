"""`LoggingMiddleware`: logs each message handled, its outcome and duration.

>>> middleware = LoggingMiddleware()
"""

from __future__ import annotations

import logging
import time
import typing

from cqrs.middlewares.base import HandleType

__all__ = ("LoggingMiddleware",)


class LoggingMiddleware:
    """Logs at `level` before and after each message; failures at ERROR."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.DEBUG) -> None:
        self._logger = logger or logging.getLogger("cqrs.mediator")
        self._level = level

    async def __call__(self, request: typing.Any, handle: HandleType) -> typing.Any:
        name = type(request).__name__
        self._logger.log(self._level, "handling %s", name)
        started = time.perf_counter()
        try:
            result = await handle(request)
        except Exception:
            self._logger.exception("%s failed", name)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._logger.log(self._level, "handled %s in %.2f ms", name, elapsed_ms)
        return result
